"""Evaluation runs started from ``/eval``: one at a time, in the background, with progress to poll.

A suite is chosen by name among the files this module lists (the shipped ``eval/suites`` and the
draft files under ``data_dir/eval/drafts``); a name is looked up in that list and never becomes a
path itself. The run uses the service's own agents and model backend (whatever ``llm.backend`` is),
writes the same resumable run folder as ``cityagent eval run`` under ``data_dir/eval-runs`` and
renders its report at the end. Starting a run and its end are audit records.

One run per process: a second start while one runs is refused (409). A process that stops mid-run
leaves the items finished so far in the run folder (``cityagent eval run --resume RUN`` continues it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.harness.drafts import drafts_dir
from eval.harness.report import render_report
from eval.harness.runner import RunConfig, Runner
from eval.harness.suites import SHIPPED_SUITES, Suite, load_suite
from service.container import Services
from service.errors import ServiceError
from tools.audit import AuditRecord
from tools.privacy import mask_pii

logger = logging.getLogger(__name__)
DRAFTS = "drafts/"  # the listed name of a draft file: drafts/<suite>


@dataclass
class RunStatus:
    """What the page polls."""

    state: str = "idle"  # idle | running | finished | failed
    run: str = ""
    suite: str = ""
    limit: int | None = None
    done: int = 0
    total: int = 0
    current: str = ""
    by: str = ""
    started: str = ""
    ended: str = ""
    error: str = ""
    report: str = ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class EvalRuns:
    """The suites a run may use, the one run in progress and its progress."""

    def __init__(self, services: Services, shipped: Path = SHIPPED_SUITES) -> None:
        self.services = services
        self.shipped = shipped
        self.status = RunStatus()
        self._task: asyncio.Task[None] | None = None

    @property
    def runs_dir(self) -> Path:
        """Where run folders go (as ``cityagent eval run``)."""
        return self.services.settings.data_dir / "eval-runs"

    def suite_files(self) -> dict[str, Path]:
        """Listed name → file: shipped suites by file name without ``.jsonl``, drafts as ``drafts/<name>``."""
        files = {p.name.removesuffix(".jsonl"): p for p in sorted(self.shipped.glob("*.jsonl"))}
        folder = drafts_dir(self.services.settings.data_dir)
        if folder.is_dir():
            files.update({DRAFTS + p.name.removesuffix(".jsonl"): p for p in sorted(folder.glob("*.jsonl"))})
        return files

    def suites(self) -> list[dict[str, Any]]:
        """Every suite with items the runner can run: name, task(s), item count, unlabelled drafts."""
        listed = []
        for name, path in self.suite_files().items():
            suite = load_suite(path)
            if not suite.items and not suite.drafts:
                continue  # a format only a bench reads (injection, emergency, …)
            tasks = sorted({i.task for i in suite.items})
            counts = {"items": len(suite.items), "drafts": len(suite.drafts)}
            listed.append({"name": name, "tasks": tasks, **counts, "draft_file": name.startswith(DRAFTS)})
        return listed

    def _load(self, name: str) -> Suite:
        path = self.suite_files().get(name)
        if path is None:
            raise ServiceError(
                404, "suite_not_found", f"没有名为 {name!r} 的评测集（见 /api/eval/suites）。", "suite"
            )
        suite = load_suite(path)
        if suite.drafts:  # the runner would refuse it too (refuse_unlabelled): said here without the path
            shown = "、".join(suite.drafts[:5]) + ("……" if len(suite.drafts) > 5 else "")
            raise ServiceError(
                422, "unlabelled_drafts",
                f"评测集 {name} 还有 {len(suite.drafts)} 条未标注的草稿（{shown}）：先给每条写上 gold 条文"
                '或 "answerable": false，再删去 "status": "draft"，然后再运行。', "suite",
            )  # fmt: skip
        if not suite.items:
            raise ServiceError(422, "empty_suite", f"评测集 {name} 没有可运行的条目。", "suite")
        return suite

    def _folder(self, name: str) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{name.replace('/', '-')}"
        folder, n = self.runs_dir / base, 1
        while folder.exists():
            n += 1
            folder = self.runs_dir / f"{base}-{n}"
        return folder

    async def start(self, name: str, limit: int | None, actor: str) -> RunStatus:
        """Start a run of suite ``name`` (its first ``limit`` items); 409 while another runs."""
        if self._task is not None and not self._task.done():
            raise ServiceError(
                409, "run_in_progress", f"评测 {self.status.run} 正在运行，请等它结束再开始新的。"
            )
        suite = await asyncio.to_thread(self._load, name)
        folder = self._folder(name)
        total = len(suite.items) if limit is None else min(limit, len(suite.items))
        self.status = RunStatus(
            state="running", run=folder.name, suite=name, limit=limit, total=total,
            current=suite.items[0].key, by=actor, started=_now(),
        )  # fmt: skip
        started = self._record("eval_run_started", actor, {"run": folder.name, "suite": name, "limit": limit})
        await asyncio.to_thread(self.services.audit.record, started)  # no record, no run
        self._task = asyncio.create_task(self._go(suite, folder, limit, actor))
        return self.status

    async def _go(self, suite: Suite, folder: Path, limit: int | None, actor: str) -> None:
        status = self.status
        runner = Runner(self.services, RunConfig(out=folder, limit=limit))

        def progress(done: int, total: int, key: str) -> None:
            status.done, status.total = done, total

        def starting(key: str) -> None:
            status.current = key

        try:
            await runner.run([suite], progress, on_item=starting)
            await asyncio.to_thread(render_report, folder)
            status.state, status.report = "finished", f"/eval/runs/{folder.name}/report.html"
        except Exception as exc:  # the page shows why; the items done so far stay in the folder
            logger.exception("eval run %s failed", folder.name)
            status.state, status.error = "failed", mask_pii(f"{type(exc).__name__}: {exc}")[:500]
        status.current, status.ended = "", _now()
        ended = self._record(
            "eval_run_ended", actor, {"run": folder.name, "state": status.state, "done": status.done}
        )
        try:
            await asyncio.to_thread(self.services.audit.record, ended)
        except Exception:
            logger.exception("audit record of the end of eval run %s not written", folder.name)

    async def wait(self) -> None:
        """Until the run in progress (if any) ends (for the CLI and tests)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    @staticmethod
    def _record(route: str, actor: str, call: dict[str, Any]) -> AuditRecord:
        return AuditRecord(
            thread=f"eval:{call['run']}", agent="eval", route=route, user_text="", reply="", model="",
            latency_ms=0.0, tool_calls=[{"tool": "eval.run", "actor": actor, **call}],
        )  # fmt: skip

    def snapshot(self) -> dict[str, Any]:
        """The status as JSON."""
        return asdict(self.status)
