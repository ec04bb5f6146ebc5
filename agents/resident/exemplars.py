"""Similarity to exemplar sentences: the emergency check's fallback for wordings no pattern names.

Character 2- and 3-grams weighted by TF-IDF, cosine similarity, nearest exemplar of each label.
Pure Python over ~120 short sentences: about 0.1 ms a message, no model, same answer every time.
The exemplars are product data (``data/emergency_exemplars.jsonl``: ``text``, ``label``
``emergency``/``ordinary``, ``services``); a city may ship its own file.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

EXEMPLARS = Path(__file__).parent / "data" / "emergency_exemplars.jsonl"


@dataclass(frozen=True)
class Exemplar:
    """One exemplar sentence and its label."""

    text: str
    emergency: bool
    services: tuple[str, ...]


@dataclass(frozen=True)
class Nearest:
    """The closest emergency and the closest ordinary exemplar to a message."""

    emergency: float
    ordinary: float
    services: tuple[str, ...]
    text: str


def _grams(text: str) -> Counter[str]:
    chars = "".join(c for c in text if c.isalnum())
    return Counter(chars[i : i + n] for n in (2, 3) for i in range(len(chars) - n + 1))


class ExemplarIndex:
    """TF-IDF vectors of the exemplars, compared with a message by cosine."""

    def __init__(self, exemplars: list[Exemplar]) -> None:
        if not any(e.emergency for e in exemplars) or all(e.emergency for e in exemplars):
            raise ValueError("the exemplars need both emergency and ordinary sentences")
        self.exemplars = exemplars
        df: Counter[str] = Counter()
        grams = [_grams(e.text) for e in exemplars]
        for g in grams:
            df.update(g.keys())
        n = len(exemplars)
        self.idf = {gram: math.log((1 + n) / (1 + count)) + 1 for gram, count in df.items()}
        self.vectors = [self._vector(g) for g in grams]

    def _vector(self, grams: Counter[str]) -> dict[str, float]:
        weights = {g: (1 + math.log(c)) * self.idf.get(g, 0.0) for g, c in grams.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {g: w / norm for g, w in weights.items() if w}

    @classmethod
    def load(cls, path: Path = EXEMPLARS) -> ExemplarIndex:
        """Read a JSONL exemplar file; a bad line is reported with its number."""
        rows: list[Exemplar] = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                rows.append(Exemplar(str(row["text"]), row["label"] == "emergency", tuple(row["services"])))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not an exemplar ({exc})") from exc
        return cls(rows)

    def nearest(self, text: str) -> Nearest:
        """The best cosine to an emergency and to an ordinary exemplar."""
        query = self._vector(_grams(text))
        best = {True: (0.0, -1), False: (0.0, -1)}
        for i, (exemplar, vector) in enumerate(zip(self.exemplars, self.vectors, strict=True)):
            small, large = (query, vector) if len(query) < len(vector) else (vector, query)
            score = sum(w * large.get(g, 0.0) for g, w in small.items())
            if score > best[exemplar.emergency][0]:
                best[exemplar.emergency] = (score, i)
        top = best[True][1]
        chosen = self.exemplars[top] if top >= 0 else None
        return Nearest(
            best[True][0],
            best[False][0],
            chosen.services if chosen else (),
            chosen.text if chosen else "",
        )


@cache
def default_index() -> ExemplarIndex:
    """The packaged exemplars, read once."""
    return ExemplarIndex.load()
