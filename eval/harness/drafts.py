"""Draft suite items made from audited turns, for an evaluator to label.

An evaluator picks a resident turn from the audit trail and sends it to a suite: the question, the
clauses that were retrieved for it and the answer the product gave become one ``qa`` line with
``"status": "draft"`` in ``data_dir/eval/drafts/<suite>.jsonl``. Labelling it means writing its
``gold`` clauses (or ``"answerable": false``) and, if wanted, a ``reference``, then removing
``"status"``. Until then the runner refuses the file (:class:`UnlabelledDraftError`): a draft has
no expected answer, and scoring against none would be a silent guess.

The question and the answer are masked again with :func:`tools.privacy.mask_pii` (the audit trail
already masks them; a draft file is handed around, so it is checked twice). Clause texts are the
city's published documents and are kept as they are.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.harness.suites import Suite
from tools.privacy import mask_pii

SUITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class UnlabelledDraftError(ValueError):
    """A suite to run still holds drafts nobody has labelled."""


class DraftError(ValueError):
    """A draft cannot be written: a bad suite name, or the turn is already in that suite."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_suite_name(name: str) -> str:
    """``name`` if it can name a draft file (letters, digits, ``_.-``; never a path), else DraftError."""
    if not SUITE_NAME.fullmatch(name) or ".." in name or name.endswith(".jsonl"):
        raise DraftError(
            "bad_suite_name",
            f"评测集名称 {name!r} 不可用：只能用字母、数字和 _ . -，以字母或数字开头，不带 .jsonl。",
        )
    return name


def draft_item(turn: dict[str, Any], clauses: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The draft line of one audited turn (``turn``: an audit record with its ``id``)."""
    return {
        "task": "qa",
        "id": f"audit-{turn['id']}",
        "status": "draft",
        "question": mask_pii(str(turn["user_text"])),
        "answer": mask_pii(str(turn["reply"])),
        "retrieved": [
            {
                "title": c.get("title", ""),
                "article": c.get("article", ""),
                "text": c.get("text", ""),
                "point_id": c.get("point_id", ""),
            }
            for c in clauses
        ],
        "source": {
            "audit_id": turn["id"],
            "route": turn.get("route", ""),
            "model": turn.get("model", ""),
            "at": str(turn.get("created_at") or ""),
        },
    }


def drafts_dir(data_dir: Path) -> Path:
    """Where draft files live."""
    return data_dir / "eval" / "drafts"


def append_draft(folder: Path, suite: str, item: dict[str, Any]) -> Path:
    """Append ``item`` to ``folder/<suite>.jsonl`` (flushed); DraftError if its id is there already."""
    path = folder / f"{check_suite_name(suite)}.jsonl"
    folder.mkdir(parents=True, exist_ok=True)
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                known = json.loads(line).get("id")
            except (json.JSONDecodeError, AttributeError):
                continue
            if known == item["id"]:
                raise DraftError("draft_exists", f"这条对话已在评测集 {suite} 的草稿里（{item['id']}）。")
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(item, ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return path


def refuse_unlabelled(suites: Sequence[Suite]) -> None:
    """Raise :class:`UnlabelledDraftError` naming every suite that still holds drafts."""
    waiting = [s for s in suites if s.drafts]
    if not waiting:
        return
    parts = []
    for s in waiting:
        shown = ", ".join(s.drafts[:5]) + (f" … (+{len(s.drafts) - 5})" if len(s.drafts) > 5 else "")
        parts.append(f"{s.path} has {len(s.drafts)} unlabelled draft item(s): {shown}")
    raise UnlabelledDraftError(
        "; ".join(parts) + '. Label each draft first (its gold clauses or "answerable": false, '
        'then remove "status": "draft"), or run without that file.'
    )
