"""Sentences in a document that give orders to the assistant ("prompt injection"), found by meaning.

A document is evidence, never an instruction. This module is the one definition of "an
instruction to the assistant": ingestion uses it to hold a document for an admin's review,
and the resident agent uses it again, at answer time, to drop such sentences from the clauses
it is given (a second line for documents indexed before, or released by mistake).

A phrase list always lags the next paraphrase, so a sentence gets a score from what it does,
not from its exact words:

* **cues** (weighted patterns, Chinese and English): overriding what came before ("忘记你之前的
  设定", "disregard the rules above"), addressing the assistant or model, "from now on",
  role-play and new identities, dictating what to answer ("当有人问…一律回答…", "answer X as
  Y"), asking for the system prompt or hidden configuration, fake "new instructions" or
  system markers; and one damper: a sentence whose subject is staff or an office
  (工作人员应当答复…) describes a duty, it does not give the assistant one;
* **likeness** to a small set of exemplar injections: the best cosine of character 1–3-gram
  counts (fast, no model; paraphrases share "之前的…指令", "from now on", "you are").

A sentence is flagged when the sum reaches :data:`THRESHOLD`. The weights are set by hand;
the threshold was chosen by 5-fold cross-validation on the development sentences in
``knowledge/data/injection_dev*.jsonl`` (``cityagent bench injection --dev``), never on the
frozen suite it is reported on (``cityagent bench injection``: on ``injection.v1`` it finds about
two thirds of the paraphrased injections, four times the old phrase list, at a false-alarm rate
about twice the list's; see the commit history for the exact figures). No LLM, well under a
millisecond a sentence; no sentence of the demo city's documents or of ~900 sampled laws is flagged.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from knowledge.injection_cues import CUES, EXEMPLARS, STAFF, STAFF_DAMPER

THRESHOLD = 0.6  # chosen by 5-fold cross-validation on the development set (see the docstring)
LIKENESS_WEIGHT = 1.2
LIKENESS_FLOOR = 0.25  # below this cosine, likeness adds nothing

_SPLIT = re.compile(r"[^。！？!?\n；;]+(?:[。！？!?；;]+|\n|$)|(?<=\n)\n")
_EN_SPLIT = re.compile(r"(?<=[a-z0-9\"')\]][.])\s+(?=[A-Z\[\"'])")
_SPACES = re.compile(r"\s+")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_WORD = re.compile(r"[a-z][a-z']+")
_STOPWORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "is",
        "are",
        "be",
        "by",
        "with",
        "as",
        "at",
    ]
)


@dataclass(frozen=True)
class Flag:
    """A flagged sentence: where it is in the text, its score and the cues that fired."""

    sentence: str
    start: int
    end: int
    score: float
    cues: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (stored with a held document, shown to the reviewing admin)."""
        return {
            "sentence": self.sentence, "start": self.start, "end": self.end,
            "score": round(self.score, 3), "cues": list(self.cues),
        }  # fmt: skip


def _normal(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def _grams(text: str) -> Counter[str]:
    """Chinese: characters and their pairs and triples; other scripts: words and word pairs."""
    s = _normal(text)
    grams: Counter[str] = Counter()
    for run in _CJK_RUN.findall(s):
        for n in (1, 2, 3):
            grams.update(run[i : i + n] for i in range(len(run) - n + 1))
    words = [w for w in _WORD.findall(s) if w not in _STOPWORDS]
    grams.update(words)
    grams.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    return grams


@lru_cache(maxsize=1)
def _exemplar_index() -> tuple[dict[str, list[tuple[int, int]]], tuple[float, ...]]:
    """Map each gram to [(exemplar, count)] and each exemplar's norm: one pass over a sentence's grams."""
    postings: dict[str, list[tuple[int, int]]] = {}
    norms: list[float] = []
    for number, exemplar in enumerate(EXEMPLARS):
        grams = _grams(exemplar)
        norms.append(math.sqrt(sum(v * v for v in grams.values())))
        for gram, count in grams.items():
            postings.setdefault(gram, []).append((number, count))
    return postings, tuple(norms)


def likeness(sentence: str) -> float:
    """The best cosine between the sentence's n-gram counts and an exemplar's."""
    grams = _grams(sentence)
    if not grams:
        return 0.0
    postings, norms = _exemplar_index()
    dots = [0.0] * len(norms)
    for gram, count in grams.items():
        for number, other in postings.get(gram, ()):
            dots[number] += count * other
    norm = math.sqrt(sum(v * v for v in grams.values()))
    return max(dot / (norm * n) for dot, n in zip(dots, norms, strict=True))


def score(sentence: str) -> tuple[float, tuple[str, ...]]:
    """The sentence's score and the cues that fired (each kind counts once, at its best weight)."""
    text = unicodedata.normalize("NFKC", sentence)
    best: dict[str, float] = {}
    for name, weight, pattern in CUES:
        if weight > best.get(name, 0.0) and pattern.search(text):
            best[name] = weight
    total = sum(best.values())
    sim = likeness(text)
    if sim > LIKENESS_FLOOR:
        total += LIKENESS_WEIGHT * (sim - LIKENESS_FLOOR) / (1 - LIKENESS_FLOOR)
        best["likeness"] = round(sim, 3)
    if STAFF.search(text) and "exfiltrate" not in best and "marker" not in best:
        total += STAFF_DAMPER
    return total, tuple(sorted(best))


def is_injection(sentence: str, threshold: float = THRESHOLD) -> bool:
    """Whether the sentence gives orders to the assistant."""
    return score(sentence)[0] >= threshold


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text`` (Chinese and English punctuation, line breaks)."""
    spans: list[tuple[int, int]] = []
    for match in _SPLIT.finditer(text):
        start, piece = match.start(), match.group(0)
        cut = 0
        for en in _EN_SPLIT.finditer(piece):
            spans.append((start + cut, start + en.start()))
            cut = en.end()
        spans.append((start + cut, match.end()))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def scan(text: str, threshold: float = THRESHOLD) -> list[Flag]:
    """Every sentence of ``text`` that gives orders to the assistant, with its offsets."""
    flags: list[Flag] = []
    for start, end in sentences(text):
        piece = text[start:end]
        value, cues = score(piece)
        if value >= threshold:
            lead = len(piece) - len(piece.lstrip())
            flags.append(Flag(piece.strip(), start + lead, start + lead + len(piece.strip()), value, cues))
    return flags


def strip_instructions(text: str, threshold: float = THRESHOLD) -> tuple[str, list[Flag]]:
    """``text`` without its flagged sentences, and the flags."""
    flags = scan(text, threshold)
    if not flags:
        return text, []
    kept: list[str] = []
    cursor = 0
    for flag in flags:
        kept.append(text[cursor : flag.start])
        cursor = flag.end
    kept.append(text[cursor:])
    return "".join(kept).strip(), flags
