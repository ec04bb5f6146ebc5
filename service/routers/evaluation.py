"""Evaluation runs for evaluators: the list of runs and each run's report (role evaluator or admin)."""

from __future__ import annotations

import json
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
_NAME = re.compile(r"^[\w.\-]{1,80}$")


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
        summary_path = run / "summary.json"
        if not summary_path.is_file():
            continue
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        headline = {
            suite: {name: m["mean"] for name, m in entry["metrics"].items()}
            for suite, entry in summary.get("suites", {}).items()
        }
        runs.append({"run": run.name, "started": summary.get("meta", {}).get("started"), "metrics": headline,
                     "report": f"/eval/runs/{run.name}/report.html"})  # fmt: skip
    return runs


@router.get("/eval/runs/{name}/report.html", include_in_schema=False)
async def run_report(
    name: str, user: Evaluator, services: Annotated[Services, Depends(get_services)]
) -> FileResponse:
    """One run's self-contained report."""
    path = runs_dir(services) / name / "report.html"
    if not _NAME.match(name) or not path.is_file():
        raise ServiceError(404, "run_not_found", f"没有名为 {name} 的评测报告。", "name")
    return FileResponse(path, media_type="text/html; charset=utf-8")


@router.get("/eval", include_in_schema=False)
async def runs_page() -> HTMLResponse:
    """The evaluators' page (sign in at /console first; the list needs role evaluator)."""
    return HTMLResponse((STATIC / "eval.html").read_text(encoding="utf-8"))
