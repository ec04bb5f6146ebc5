"""Answer-vs-reference overlap for Chinese text.

ragas' ROUGE drops every non-ASCII character (it scored 1.0 on a wrong Chinese answer,
STACK.md), so ROUGE-L is computed here on rjieba words; BLEU uses sacrebleu's ``zh``
tokenizer and chrF works on characters, both from sacrebleu.
"""

from __future__ import annotations

import re

import rjieba
from sacrebleu.metrics.bleu import BLEU
from sacrebleu.metrics.chrf import CHRF

_WORD = re.compile(r"\w")
_BLEU = BLEU(tokenize="zh", effective_order=True)
_CHRF = CHRF()


def words(text: str) -> list[str]:
    """Rjieba words without punctuation."""
    return [w for w in rjieba.cut(text) if w.strip() and _WORD.search(w)]


def bleu(hypothesis: str, reference: str) -> float:
    """Sentence BLEU (0–1) with the Chinese tokenizer and effective order (short answers get a fair score)."""
    return float(_BLEU.sentence_score(hypothesis, [reference]).score) / 100


def chrf(hypothesis: str, reference: str) -> float:
    """Character n-gram F-score (0–1)."""
    return float(_CHRF.sentence_score(hypothesis, [reference]).score) / 100


def _lcs(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(hypothesis: str, reference: str) -> float:
    """ROUGE-L F1 over rjieba words (0–1)."""
    hyp, ref = words(hypothesis), words(reference)
    if not hyp or not ref:
        return 0.0
    common = _lcs(hyp, ref)
    if common == 0:
        return 0.0
    precision, recall = common / len(hyp), common / len(ref)
    return 2 * precision * recall / (precision + recall)
