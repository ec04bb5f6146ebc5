"""What stands between retrieved text, the model, and the resident.

* :func:`clean_context` drops sentences of a retrieved passage that give orders to an
  assistant ("忽略以上规则…", "助手请注意：从现在起…"): a document is evidence, never an
  instruction. The detector is :mod:`knowledge.injection`, the same one ingestion uses to
  hold a document for review; this is the second line, for whatever got past the first.
* :func:`verify_answer` keeps only the citations that name a retrieved clause; removes any
  telephone number, amount of money or deadline that appears in none of the retrieved
  clauses; and drops every sentence whose wording neither the clauses nor the question
  support (fewer than 40% of its character pairs occur in them; calibrated on the embedded
  model's answers to the demo questions): the model may rephrase a rule, never invent one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from knowledge.injection import strip_instructions

_CITATION = re.compile(r"〔([^〔〕]{2,80})〕")
# Facts a model must not make up: phone numbers, sums of money, time limits.
_PHONE = re.compile(r"(?<![\d.])(?:\d{3,4}-\d{7,8}|1[3-9]\d{9}|400-?\d{3}-?\d{4}|\d{5})(?![\d.])")
_MONEY = re.compile(r"\d+(?:\.\d+)?\s*(?:万元|元|块钱|块)")
_LIMIT = re.compile(r"\d+\s*个?(?:工作日|日内|天内|个月内|小时内|年内)")
REMOVED = "（此处内容未在文件中找到，已删除）"
MIN_SUPPORT = 0.4
_ANSWER_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
_CJK = re.compile(r"[\u4e00-\u9fff0-9]+")


def _pairs(text: str) -> set[str]:
    return {run[i : i + 2] for run in _CJK.findall(text) for i in range(len(run) - 1)}


def support(sentence: str, evidence_pairs: set[str]) -> float:
    """The share of the sentence's character pairs found in the evidence (1.0 for very short sentences)."""
    pairs = _pairs(_CITATION.sub("", sentence))
    if len(pairs) < 6:
        return 1.0
    return len(pairs & evidence_pairs) / len(pairs)


def clean_context(text: str) -> tuple[str, bool]:
    """The passage without instruction-like sentences (see :mod:`knowledge.injection`); whether any went."""
    kept, flags = strip_instructions(text)
    return kept, bool(flags)


@dataclass(frozen=True)
class Verified:
    """The answer as it may be shown, which retrieved clauses it cites, and what was taken out."""

    text: str
    cited: list[int]
    removed: list[str] = field(default_factory=list)


def _normal(text: str) -> str:
    return re.sub(r"[\s《》<>〈〉“”\"'（）()]", "", text)


def _match_citation(inner: str, labels: Sequence[tuple[str, str]]) -> int | None:
    """Which clause ``〔inner〕`` names: title and article, or the article of a title named in part."""
    norm = _normal(inner)
    for i, (title, article) in enumerate(labels):
        if norm == _normal(f"{title}{article}"):
            return i
    for i, (title, article) in enumerate(labels):
        if article and article in norm and (_normal(title) in norm or norm.replace(article, "") in title):
            return i
    return None


def verify_answer(
    answer: str, clauses: Sequence[dict[str, Any]], question: str = "", hotline: str = "12345"
) -> Verified:
    """Check an answer against the clauses it was given (each with ``title``, ``label``, ``text``)."""
    labels = [(str(c.get("title", "")), str(c.get("label", ""))) for c in clauses]
    evidence = "".join(str(c.get("text", "")) for c in clauses)
    digits_in_evidence = re.sub(r"\s", "", evidence)
    cited: list[int] = []
    removed: list[str] = []

    def citation(match: re.Match[str]) -> str:
        index = _match_citation(match.group(1), labels)
        if index is None:
            removed.append(match.group(0))
            return ""
        if index not in cited:
            cited.append(index)
        title, article = labels[index]
        return f"〔{title} {article}〕".replace(" 〕", "〕")

    text = _CITATION.sub(citation, answer)

    def unsupported(match: re.Match[str]) -> str:
        value = match.group(0)
        if re.sub(r"\s", "", value) in digits_in_evidence or value == hotline:
            return value
        removed.append(value)
        return REMOVED

    for pattern in (_MONEY, _LIMIT, _PHONE):
        text = pattern.sub(unsupported, text)
    evidence_pairs = _pairs(evidence + question + "".join(f"{t}{a}" for t, a in labels))
    kept: list[str] = []
    for line in text.replace("**", "").split("\n"):
        sentences = _ANSWER_SENTENCE.findall(line)
        good = [s for s in sentences if support(s, evidence_pairs) >= MIN_SUPPORT]
        removed += [s.strip() for s in sentences if s not in good]
        if good or not sentences:
            kept.append("".join(good))
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept))
    return Verified(text.strip(), cited, removed)


def has_content(text: str) -> bool:
    """Whether anything but citations is left of an answer."""
    return len("".join(_CJK.findall(_CITATION.sub("", text).replace("依据", "")))) >= 4
