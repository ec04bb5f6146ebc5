"""Evaluation for evaluators (role evaluator or admin): runs, reports, comparisons, drafts from audited turns.

``/eval`` lists the runs, starts one (a suite by name, a limit; :mod:`service.eval_runs`) and polls
its progress, compares two runs on one page, and sends an audited resident turn to a suite as a
draft item for labelling (:mod:`eval.harness.drafts`).

A run name is a folder name under the runs folder and nothing else: a strict pattern (a letter
or digit first, so never ``.`` or ``..``, however it was percent-encoded on the way in), and
the resolved path must still lie inside the runs folder (no symlink out). A run whose
``summary.json`` cannot be read is listed with an ``error`` instead of failing the whole list.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from agents.resident.runner import AGENT as RESIDENT
from eval.harness.comparison import render_comparison
from eval.harness.drafts import DraftError, append_draft, draft_item, drafts_dir
from eval.harness.labels import metric_label
from service.auth import require
from service.container import Services
from service.deps import get_services
from service.errors import ServiceError
from service.eval_runs import EvalRuns
from tools.audit import AuditRecord
from tools.privacy import mask_pii
from tools.users import User

router = APIRouter(tags=["evaluation"])
STATIC = Path(__file__).resolve().parent.parent / "static"
Evaluator = Annotated[User, Depends(require("evaluator"))]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$")
logger = logging.getLogger(__name__)


def runs_dir(services: Services) -> Path:
    """Where ``cityagent eval run`` writes by default."""
    return services.settings.data_dir / "eval-runs"


@router.get("/api/eval/runs")
async def list_runs(
    user: Evaluator, services: Annotated[Services, Depends(get_services)]
) -> list[dict[str, Any]]:
    """Every run folder, newest first, with its suites and headline metrics."""
    runs = []
    folder = runs_dir(services)
    for run in sorted(folder.iterdir(), reverse=True) if folder.is_dir() else []:
        if _inside(folder, run.name) is None:
            continue
        summary_path = run / "summary.json"
        if not summary_path.is_file():
            continue
        entry: dict[str, Any] = {"run": run.name, "report": f"/eval/runs/{run.name}/report.html"}
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            entry["started"] = summary.get("meta", {}).get("started")
            entry["metrics"] = {
                suite: {name: m["mean"] for name, m in item["metrics"].items()}
                for suite, item in summary.get("suites", {}).items()
            }
            entry["labels"] = {n: metric_label(n) for m in entry["metrics"].values() for n in m}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("eval run %s: unreadable summary.json (%s)", run.name, type(exc).__name__)
            entry.update(
                started=None, metrics={}, labels={}, error="summary.json is unreadable (torn or malformed)"
            )
        runs.append(entry)
    return runs


def _inside(folder: Path, name: str) -> Path | None:
    """``folder / name`` when ``name`` is a valid run name that resolves inside ``folder``, else None."""
    if not _NAME.fullmatch(name) or ".." in name:
        return None
    path = (folder / name).resolve()
    return path if path.parent == folder.resolve() else None


@router.get("/eval/runs/{name}/report.html", include_in_schema=False)
async def run_report(
    name: str, user: Evaluator, services: Annotated[Services, Depends(get_services)]
) -> FileResponse:
    """One run's self-contained report."""
    run = _inside(runs_dir(services), name)
    path = run / "report.html" if run is not None else None
    if run is None or path is None or not path.is_file() or path.resolve().parent != run:
        raise ServiceError(404, "run_not_found", f"没有名为 {name} 的评测报告。", "name")
    return FileResponse(path, media_type="text/html; charset=utf-8")


@router.get("/eval", include_in_schema=False)
async def runs_page() -> HTMLResponse:
    """The evaluators' page (sign in at /console first; the list needs role evaluator)."""
    return HTMLResponse((STATIC / "eval.html").read_text(encoding="utf-8"))


@router.get("/eval.js", include_in_schema=False)
async def runs_page_script() -> FileResponse:
    """The evaluators' page's script."""
    return FileResponse(STATIC / "eval.js", media_type="text/javascript; charset=utf-8")


class StartRun(BaseModel):
    """A run to start: a suite by its listed name, and at most ``limit`` of its items (all when absent)."""

    model_config = ConfigDict(extra="forbid")
    suite: str = Field(min_length=1, max_length=100)
    limit: int | None = Field(default=None, ge=1, le=100_000)


class NewDraft(BaseModel):
    """An audited turn (by its id in the audit trail) to append to a suite's draft file."""

    model_config = ConfigDict(extra="forbid")
    audit_id: int = Field(ge=1)
    suite: str = Field(min_length=1, max_length=64)


def get_eval_runs(request: Request, services: Annotated[Services, Depends(get_services)]) -> EvalRuns:
    """The app's one run manager (made on first use, kept on ``app.state``)."""
    runs: EvalRuns | None = getattr(request.app.state, "eval_runs", None)
    if runs is None or runs.services is not services:
        runs = request.app.state.eval_runs = EvalRuns(services)
    return runs


Runs = Annotated[EvalRuns, Depends(get_eval_runs)]


@router.get("/api/eval/suites")
async def list_suites(user: Evaluator, runs: Runs) -> list[dict[str, Any]]:
    """The suites a run can use (shipped and draft files), with item and unlabelled-draft counts."""
    return await asyncio.to_thread(runs.suites)


@router.post("/api/eval/runs", status_code=202)
async def start_run(body: StartRun, user: Evaluator, runs: Runs) -> dict[str, Any]:
    """Start a run in the background (409 while one runs); poll ``/api/eval/status``."""
    await runs.start(body.suite, body.limit, user.username)
    return runs.snapshot()


@router.get("/api/eval/status")
async def run_status(user: Evaluator, runs: Runs) -> dict[str, Any]:
    """The run in progress or the last one: state, done/total, the current item, the report when done."""
    return runs.snapshot()


@router.get("/eval/compare", include_in_schema=False)
async def compare_page(
    user: Evaluator,
    services: Annotated[Services, Depends(get_services)],
    a: Annotated[str, Query(max_length=100)],
    b: Annotated[str, Query(max_length=100)],
) -> HTMLResponse:
    """Run ``b`` against run ``a`` on one page (their shared items, paired)."""
    folder = runs_dir(services)
    found = {name: _inside(folder, name) for name in (a, b)}
    for field, name in (("a", a), ("b", b)):
        run = found[name]
        if run is None or not (run / "meta.json").is_file():
            raise ServiceError(404, "run_not_found", f"没有名为 {name} 的评测运行。", field)
    page = await asyncio.to_thread(render_comparison, found[a], found[b])  # type: ignore[arg-type]
    return HTMLResponse(page)


def _turn_view(record: AuditRecord) -> dict[str, Any]:
    return {
        "id": record.id, "at": record.created_at.isoformat() if record.created_at else None,
        "route": record.route, "question": mask_pii(record.user_text)[:300],
        "answer": mask_pii(record.reply)[:300], "retrieved": len(record.chunk_ids), "model": record.model,
    }  # fmt: skip


def _resident_turns(services: Services, limit: int) -> list[dict[str, Any]]:
    records = services.audit.records(agent=RESIDENT, limit=limit * 3)
    return [_turn_view(r) for r in records if not r.thread.startswith("eval:")][:limit]


@router.get("/api/eval/turns")
async def recent_turns(
    user: Evaluator,
    services: Annotated[Services, Depends(get_services)],
    limit: Annotated[int, Query(ge=1, le=200)] = 30,
) -> list[dict[str, Any]]:
    """The latest audited resident turns (masked; not the evaluation runs' own), newest first."""
    return await asyncio.to_thread(_resident_turns, services, limit)


def _add_draft(services: Services, body: NewDraft, actor: str) -> dict[str, Any]:
    record = services.audit.get(body.audit_id)
    if record is None or record.agent != RESIDENT:
        raise ServiceError(
            404, "turn_not_found", f"审计记录里没有编号为 {body.audit_id} 的居民对话。", "audit_id"
        )
    payloads = services.index.payloads(record.chunk_ids) if record.chunk_ids else {}
    clauses = [
        {"title": p.get("title", ""), "article": p.get("label") or p.get("article", ""),
         "text": p.get("text", ""), "point_id": pid}
        for pid in record.chunk_ids
        if (p := payloads.get(pid)) is not None
    ]  # fmt: skip
    item = draft_item(dataclasses.asdict(record), clauses)
    try:
        path = append_draft(drafts_dir(services.settings.data_dir), body.suite, item)
    except DraftError as exc:
        status = 409 if exc.code == "draft_exists" else 422
        raise ServiceError(status, exc.code, str(exc), "suite" if status == 422 else "audit_id") from exc
    call = {"tool": "eval.draft", "actor": actor, "audit_id": body.audit_id, "suite": body.suite}
    services.audit.record(
        AuditRecord(
            thread=record.thread,
            agent="eval",
            route="eval_draft_added",
            user_text="",
            reply="",
            model="",
            latency_ms=0.0,
            tool_calls=[call],
        )
    )
    suite = f"drafts/{path.name.removesuffix('.jsonl')}"
    return {"suite": suite, "item": item, "missing_clauses": len(record.chunk_ids) - len(clauses)}


@router.post("/api/eval/drafts", status_code=201)
async def add_draft(
    body: NewDraft, user: Evaluator, services: Annotated[Services, Depends(get_services)]
) -> dict[str, Any]:
    """Append an audited turn to ``data_dir/eval/drafts/<suite>.jsonl`` as an unlabelled qa item."""
    return await asyncio.to_thread(_add_draft, services, body, user.username)
