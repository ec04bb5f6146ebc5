"""Suite files (JSONL, formats in eval/suites/README.md): load every good line, report every bad one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHIPPED_SUITES = Path(__file__).resolve().parents[1] / "suites"  # eval/suites
TASKS = ("qa", "dispatch", "subsidy", "chat")
_REQUIRED: dict[str, tuple[str, ...]] = {
    "qa": ("question",),
    "dispatch": ("text", "department"),
    "subsidy": ("enterprise", "policy", "decision"),
    "chat": ("turns",),
}


@dataclass(frozen=True)
class Item:
    """One suite item: ``key`` is ``suite-name:id`` (unique across the suites of a run)."""

    suite: str
    id: str
    task: str
    data: dict[str, Any]

    @property
    def key(self) -> str:
        """Unique across a run."""
        return f"{self.suite}:{self.id}"


@dataclass
class Suite:
    """The items of one file and the lines that could not be used (``path:line: reason``)."""

    path: Path
    items: list[Item] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    drafts: list[str] = field(default_factory=list)  # ids of unlabelled drafts (``"status": "draft"``)

    @property
    def name(self) -> str:
        """The file name without ``.jsonl``."""
        return self.path.name.removesuffix(".jsonl")


def split_of(item_id: str) -> str:
    """``dev`` or ``test``: a fixed half of any suite, by the item's id (for tuning on one half only)."""
    return "dev" if hashlib.sha256(item_id.encode()).digest()[0] % 2 == 0 else "test"


def _check(row: Any) -> str | None:  # noqa: PLR0911 - one return per rule
    if not isinstance(row, dict):
        return "not a JSON object"
    task = row.get("task")
    if task not in TASKS:
        return f"task must be one of {', '.join(TASKS)}, got {task!r}"
    if not str(row.get("id", "")).strip():
        return "missing id"
    missing = [f for f in _REQUIRED[task] if f not in row or row[f] in ("", None, [])]
    if missing:
        return f"{task} item lacks {', '.join(missing)}"
    if task == "qa" and row.get("answerable", True) and not row.get("gold"):
        return "an answerable qa item needs gold citations (or answerable: false)"
    if task == "chat" and not all(isinstance(t, dict) and t.get("user") for t in row["turns"]):
        return "every chat turn needs a user message"
    return None


def load_suite(path: Path, split: str | None = None) -> Suite:
    """Read a suite; bad lines go to ``errors`` with their line number, unlabelled drafts to ``drafts``.

    A draft (an audited turn sent to the suite, ``eval.harness.drafts``) is not an item until an
    evaluator labels it; the runner refuses a suite that still holds one rather than skip it quietly.
    ``split`` (``dev``/``test``): only that half of the items (:func:`split_of`). A line in the
    retrieval-suite format (``question`` and ``gold``, no ``task``; ``cityagent bench knowledge`` reads
    the same files, e.g. the legal consultations) is an answerable ``qa`` item.
    """
    suite = Suite(path)
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            suite.errors.append(f"{path}:{number}: not JSON ({exc.msg})")
            continue
        if isinstance(row, dict) and row.get("status") == "draft":
            suite.drafts.append(str(row.get("id", f"line {number}")))
            continue
        if isinstance(row, dict) and "task" not in row and row.get("question") and row.get("gold"):
            row = {**row, "task": "qa"}  # the retrieval-suite format: an answerable question
        problem = _check(row)
        if problem is None and str(row["id"]) in seen:
            problem = f"duplicate id {row['id']!r}"
        if problem:
            suite.errors.append(f"{path}:{number}: {problem}")
            continue
        seen.add(str(row["id"]))
        if split is not None and split_of(str(row["id"])) != split:
            continue
        suite.items.append(Item(suite.name, str(row["id"]), str(row["task"]), row))
    return suite
