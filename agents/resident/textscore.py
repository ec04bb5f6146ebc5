"""A linear model over character n-grams, scored in pure Python from weights shipped as data.

The emergency and abuse checks pair their rules with one of these, trained on the development sets
by ``eval.bench.screen_training`` (scikit-learn's ``TfidfVectorizer`` with our own analyser, then
``LogisticRegression``). Scoring needs no library and no model server: a message's n-grams are looked
up in a dict, weighted by TF-IDF (sublinear term frequency, L2 norm, exactly as the vectoriser does),
and summed, which takes some tens of microseconds. The file names its heads (``emergency``, ``119``…),
the n-gram range and the threshold chosen by cross-validation on the development data.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
FORMAT = "cityagent.chargram.v1"


def char_grams(text: str, low: int, high: int) -> list[str]:
    """The character n-grams of ``text`` (``low`` to ``high`` long), the text padded with ``^`` and ``$``."""
    padded = f"^{text}$"
    out: list[str] = []
    for size in range(low, high + 1):
        out.extend(padded[i : i + size] for i in range(len(padded) - size + 1))
    return [g for g in out if g not in ("^", "$")]


class ModelFileError(ValueError):
    """A model file that is not one this code can score with (says which file and what is wrong)."""


@dataclass(frozen=True)
class CharGramModel:
    """Heads of logistic regressions sharing one TF-IDF vocabulary.

    ``weights[gram]`` is ``[idf, w_head0, w_head1, …]``; ``bias`` one intercept per head.
    """

    heads: tuple[str, ...]
    low: int
    high: int
    weights: dict[str, list[float]]
    bias: tuple[float, ...]
    threshold: float
    meta: dict[str, Any]

    def logits(self, text: str) -> dict[str, float]:
        """Each head's logit for ``text`` (already normalised the way the trainer normalised)."""
        counts = Counter(char_grams(text, self.low, self.high))
        sums = [0.0] * len(self.heads)
        norm = 0.0
        for gram, count in counts.items():
            row = self.weights.get(gram)
            if row is None:
                continue
            value = (1.0 + math.log(count)) * row[0]
            norm += value * value
            for i in range(len(sums)):
                sums[i] += value * row[i + 1]
        scale = 1.0 / math.sqrt(norm) if norm else 0.0
        return {head: s * scale + b for head, s, b in zip(self.heads, sums, self.bias, strict=True)}

    def probabilities(self, text: str) -> dict[str, float]:
        """Each head's probability for ``text``."""
        return {head: _sigmoid(z) for head, z in self.logits(text).items()}

    def to_json(self) -> dict[str, Any]:
        """The file's content (``load`` reads it back)."""
        return {
            "format": FORMAT,
            "heads": list(self.heads),
            "ngram_range": [self.low, self.high],
            "threshold": self.threshold,
            "bias": list(self.bias),
            "meta": self.meta,
            "weights": self.weights,
        }


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def from_json(raw: Any, source: str = "model") -> CharGramModel:
    """A model from the content of its file; a wrong shape raises ``ModelFileError`` naming ``source``."""
    try:
        if raw["format"] != FORMAT:
            raise ModelFileError(f"{source}: format {raw['format']!r}, expected {FORMAT!r}")
        heads = tuple(str(h) for h in raw["heads"])
        low, high = (int(n) for n in raw["ngram_range"])
        bias = tuple(float(b) for b in raw["bias"])
        weights = {str(g): [float(v) for v in row] for g, row in raw["weights"].items()}
        threshold = float(raw["threshold"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{source}: not a character n-gram model ({exc!r})") from exc
    bad = next((g for g, row in weights.items() if len(row) != len(heads) + 1), None)
    if not heads or len(bias) != len(heads) or not 1 <= low <= high or bad is not None:
        raise ModelFileError(f"{source}: heads, bias, n-gram range or the row of {bad!r} do not agree")
    if not all(math.isfinite(v) for row in weights.values() for v in row) or not 0 < threshold < 1:
        raise ModelFileError(f"{source}: weights must be finite and the threshold in (0, 1)")
    return CharGramModel(heads, low, high, weights, bias, threshold, dict(raw.get("meta") or {}))


def load(name: str, folder: Path = DATA) -> CharGramModel:
    """The shipped model ``name`` (``emergency`` or ``abuse``) from ``folder``."""
    path = folder / f"{name}_model.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: cannot be read ({exc})") from exc
    return from_json(raw, str(path))
