"""Retrieval suites (question → gold document and article) and their metrics.

Format, one JSON object per line (``eval/suites/*.jsonl``)::

    {"id": "laws-001", "question": "入职以后单位最晚什么时候要跟我签书面合同？",
     "gold": [{"title": "中华人民共和国劳动合同法", "article": "第十条"}],
     "evidence": "一个月内订立书面劳动合同"}

``gold`` may list several acceptable (title, article) pairs; a hit matches one when its
document title (version suffix ignored) and article label are equal. ``evidence`` is a
phrase the gold article contains; the suite test checks it against the corpus.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.supersede import base_title


@dataclass(frozen=True)
class RetrievalItem:
    """One question and what would answer it."""

    item_id: str
    question: str
    gold: tuple[tuple[str, str], ...]
    evidence: str = ""


class SuiteError(ValueError):
    """A suite line that cannot be used, with its line number."""


def load_retrieval_suite(path: Path) -> list[RetrievalItem]:
    """Every item of a suite file; a bad line raises :class:`SuiteError` naming its line."""
    items: list[RetrievalItem] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            gold = tuple((str(g["title"]), str(g["article"])) for g in row["gold"])
            if not row["question"].strip() or not gold:
                raise ValueError("empty question or gold")
            items.append(
                RetrievalItem(str(row["id"]), str(row["question"]), gold, str(row.get("evidence", "")))
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise SuiteError(f"{path}:{number}: {exc}") from exc
    return items


def matches(payload: dict[str, Any], gold: Sequence[tuple[str, str]]) -> bool:
    """Whether a hit's payload cites one of the gold (title, article) pairs."""
    title = base_title(str(payload.get("title", "")))
    article = str(payload.get("article", ""))
    return any(base_title(t) == title and a == article for t, a in gold)


def matches_law(payload: dict[str, Any], gold: Sequence[tuple[str, str]]) -> bool:
    """Whether a hit comes from one of the gold laws (any article)."""
    title = base_title(str(payload.get("title", "")))
    return any(base_title(t) == title for t, _ in gold)


@dataclass(frozen=True)
class RetrievalScores:
    """Recall@k and MRR@10 over a suite, of the gold article and of the gold law (any of its articles)."""

    recall_at_k: float
    mrr_at_10: float
    k: int
    items: int
    misses: tuple[str, ...]
    law_recall_at_k: float = 0.0
    law_mrr_at_10: float = 0.0


def score_retrieval(
    items: Sequence[RetrievalItem], search: Callable[[str], Sequence[dict[str, Any]]], k: int = 5
) -> RetrievalScores:
    """Score a search function: ``search(question)`` returns hit payloads best first."""
    hits_at_k = law_hits = 0
    reciprocal = law_reciprocal = 0.0
    misses: list[str] = []
    for item in items:
        payloads = list(search(item.question))[:10]
        rank = next((i for i, p in enumerate(payloads, start=1) if matches(p, item.gold)), None)
        law_rank = next((i for i, p in enumerate(payloads, start=1) if matches_law(p, item.gold)), None)
        if rank is not None and rank <= k:
            hits_at_k += 1
        else:
            misses.append(item.item_id)
        if rank is not None:
            reciprocal += 1.0 / rank
        if law_rank is not None:
            law_hits += law_rank <= k
            law_reciprocal += 1.0 / law_rank
    n = max(1, len(items))
    return RetrievalScores(
        hits_at_k / n, reciprocal / n, k, len(items), tuple(misses), law_hits / n, law_reciprocal / n
    )
