"""Whether an answer cites the right clause, and refuses exactly when it should."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eval.retrieval import matches

REFUSAL_MARKERS = (
    "没有相关规定",
    "未找到",
    "没有找到",
    "不涵盖",
    "未涉及",
    "无法回答",
    "没有涉及",
    "请拨打12345",
)


def is_refusal(answer: str) -> bool:
    """Whether an answer says the documents do not cover the question."""
    return any(marker in answer for marker in REFUSAL_MARKERS)


def citation_hit(cited: Sequence[tuple[str, str]], gold: Sequence[tuple[str, str]]) -> bool:
    """Whether a gold (document, article) is among the cited ones (version suffixes ignored)."""
    return any(matches({"title": title, "article": article}, gold) for title, article in cited)


@dataclass(frozen=True)
class RefusalScores:
    """How refusals went: right ones, invented answers, false refusals."""

    unanswerable: int
    correct_refusals: int
    invented_answers: int
    answerable: int
    false_refusals: int

    @property
    def refusal_accuracy(self) -> float:
        """Share of all items handled right (refused when unanswerable, answered when answerable)."""
        total = self.unanswerable + self.answerable
        return (self.correct_refusals + self.answerable - self.false_refusals) / total if total else 0.0


def score_refusals(items: Sequence[tuple[bool, str]]) -> RefusalScores:
    """``items``: (answerable, answer) pairs."""
    unanswerable = [a for ok, a in items if not ok]
    answerable = [a for ok, a in items if ok]
    refused_right = sum(is_refusal(a) for a in unanswerable)
    return RefusalScores(
        unanswerable=len(unanswerable),
        correct_refusals=refused_right,
        invented_answers=len(unanswerable) - refused_right,
        answerable=len(answerable),
        false_refusals=sum(is_refusal(a) for a in answerable),
    )
