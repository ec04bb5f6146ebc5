"""Evaluation runs for evaluators: the list of runs and each run's report (role evaluator or admin).

A run name is a folder name under the runs folder and nothing else: a strict pattern (a letter
or digit first, so never ``.`` or ``..``, however it was percent-encoded on the way in), and
the resolved path must still lie inside the runs folder (no symlink out). A run whose
``summary.json`` cannot be read is listed with an ``error`` instead of failing the whole list.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, HTMLResponse

from service.auth import require
from service.container import Services
from service.deps import get_services
from service.errors import ServiceError
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
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("eval run %s: unreadable summary.json (%s)", run.name, type(exc).__name__)
            entry.update(started=None, metrics={}, error="summary.json is unreadable (torn or malformed)")
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
