"""Does what was retrieved answer the question? A calibrated decision instead of fixed cut-offs.

Two cut-offs on the best passage's cosine and BM25 score, tuned on 28 short questions, refused
long, chatty questions whose clauses do answer them: a long question spreads its weight over many
words, so both scores fall. The gate reads a few features of the question and its passages that
do not depend on how long the question is (what share of the question's words and character pairs
the best passage holds, how the dense and sparse paths agree, the scores themselves), and a
logistic regression fitted on labelled questions (answerable or not) turns them into a
probability. Two cut-offs on that probability make three zones:

* ``refuse``: below ``low``. Not covered; the model is not asked.
* ``ask``: the model answers from the clauses, and its "not covered" stands.
* ``answer``: at or above ``high``. The clauses answer the question: a model that says they do
  not is overruled and the resident gets the clauses themselves.

Without a model, ``ask`` and ``answer`` both show the clauses. The fitted model lives in a small
JSON file per embedding backend (``knowledge/gate.<backend>.json``; the cosines of two
models sit in different bands); ``cityagent eval calibrate-gate`` fits one from any labelled
``qa`` suite and reports its cross-validated figures, so a city refits it on its own questions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

from knowledge.sparse import tokens

Zone = Literal["refuse", "ask", "answer"]

FEATURES: tuple[str, ...] = (
    "dense_top", "dense_gap", "bm25_top", "bm25_per_word", "word_cover", "pair_cover",
    "title_cover", "agree", "log_len", "amount_missing", "time_missing", "count_missing",
)  # fmt: skip
# what kind of answer a question wants, and what a passage holding such an answer states: a question
# asking "how much" over passages that name no amount is not answered by them, however close they are
_WANTS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "amount": (
        re.compile(r"多少钱|几块钱|什么价|收费多少|费用多少|要交多少|要付多少|罚多少|补多少|给多少|能领多少|多少元"),
        re.compile(r"\d[\d.,]*\s*(?:万元|元|块)|[一二三四五六七八九十百千万]+元|百分之|\d+\s*[%％]|免费|免收|不收"),
    ),
    "time": (
        re.compile(r"多久|多长时间|几天|几个月|几年|什么时候|啥时候|几点|时限|期限|最晚|最长|最快"),
        re.compile(r"\d+\s*(?:个)?(?:工作日|日|天|小时|个月|月|年|周)|[一二三四五六七八九十两]+(?:个)?(?:工作日|日|天|小时|个月|年|周)|"
                   r"\d{1,2}月\d{1,2}日|即时|当日|当天"),
    ),
    "count": (
        re.compile(r"几次|几个|几户|几人|多少户|多少人|多少个|多少次|几套|几成|多少比例|多大比例|几分之"),
        re.compile(r"\d+\s*(?:次|个|户|人|套|名|%|％)|[一二三四五六七八九十两]+(?:次|个|户|人|套|名)|分之|百分之"),
    ),
}  # fmt: skip


def asked_kinds(question: str) -> list[str]:
    """Which kinds of figure a question asks for: ``amount``, ``time``, ``count`` (none: an empty list)."""
    return [kind for kind, (asks, _states) in _WANTS.items() if asks.search(question)]


DATA_DIR = Path(__file__).parent  # gate.<backend>.json beside this module (package data)
_HAN_PAIR = re.compile(r"(?=([\u4e00-\u9fff]{2}))")


class Scored(Protocol):
    """What the gate reads of a retrieved passage (``knowledge.retriever.Hit`` has it)."""

    @property
    def scores(self) -> dict[str, float]: ...  # noqa: D102

    @property
    def title(self) -> str: ...  # noqa: D102

    @property
    def text(self) -> str: ...  # noqa: D102


def _pairs(text: str) -> set[str]:
    return set(_HAN_PAIR.findall(text))


def features(question: str, hits: Sequence[Scored]) -> dict[str, float]:
    """The gate's features of a question and its passages (all 0 when nothing was found)."""
    words = set(tokens(question))
    pairs = _pairs(question)
    dense = sorted((h.scores["dense"] for h in hits if "dense" in h.scores), reverse=True)
    sparse = sorted((h.scores["bm25"] for h in hits if "bm25" in h.scores), reverse=True)
    word_cover = pair_cover = title_cover = 0.0
    for hit in hits:
        body = f"{hit.title}\n{hit.text}"
        if words:
            held = set(tokens(body))
            word_cover = max(word_cover, len(words & held) / len(words))
            title_cover = max(title_cover, len(words & set(tokens(hit.title))) / len(words))
        if pairs:
            pair_cover = max(pair_cover, len(pairs & _pairs(body)) / len(pairs))
    both = [h for h in hits if "dense" in h.scores and "bm25" in h.scores]
    best = "\n".join(h.text for h in hits[:2])
    missing = {
        f"{kind}_missing": float(bool(asks.search(question)) and not states.search(best))
        for kind, (asks, states) in _WANTS.items()
    }
    return {
        "dense_top": dense[0] if dense else 0.0,
        "dense_gap": dense[0] - dense[1] if len(dense) > 1 else 0.0,
        "bm25_top": sparse[0] if sparse else 0.0,
        "bm25_per_word": (sparse[0] / max(len(words), 1)) if sparse else 0.0,
        "word_cover": word_cover,
        "pair_cover": pair_cover,
        "title_cover": title_cover,
        "agree": len(both) / len(hits) if hits else 0.0,
        "log_len": math.log1p(len(question)),
        **missing,
    }


@dataclass(frozen=True)
class GateModel:
    """A fitted gate: standardised features, logistic weights and the two cut-offs."""

    backend: str
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    low: float
    high: float
    features: tuple[str, ...] = FEATURES
    trained_on: str = ""
    notes: str = ""

    def probability(self, feats: dict[str, float]) -> float:
        """P(the passages answer the question)."""
        z = self.intercept + sum(
            w * (feats.get(name, 0.0) - m) / s
            for name, w, m, s in zip(self.features, self.coef, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))

    def zone(self, probability: float) -> Zone:
        """Which of the three zones a probability falls in."""
        if probability < self.low:
            return "refuse"
        return "answer" if probability >= self.high else "ask"

    def to_json(self) -> str:
        """The model as the JSON file ``load`` reads."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateModel:
        """A model from its JSON form, checked: a file that does not fit is refused with the reason."""
        names = tuple(data.get("features", FEATURES))
        unknown = set(names) - set(FEATURES)
        if unknown:
            raise ValueError(f"gate: unknown features {sorted(unknown)}")
        lengths = {len(data.get(key, ())) for key in ("mean", "scale", "coef")}
        if lengths != {len(names)}:
            raise ValueError("gate: mean, scale and coef must each have one value per feature")
        if not 0.0 <= float(data["low"]) <= float(data["high"]) <= 1.0:
            raise ValueError("gate: need 0 <= low <= high <= 1")
        if any(float(s) <= 0 for s in data["scale"]):
            raise ValueError("gate: every scale must be positive")
        return cls(
            backend=str(data.get("backend", "")),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            coef=tuple(float(v) for v in data["coef"]),
            intercept=float(data["intercept"]),
            low=float(data["low"]),
            high=float(data["high"]),
            features=names,
            trained_on=str(data.get("trained_on", "")),
            notes=str(data.get("notes", "")),
        )

    @classmethod
    def load(cls, path: Path) -> GateModel:
        """Read a gate file (``ValueError`` naming the file when it does not parse or fit)."""
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: not a gate file ({exc})") from exc


@lru_cache(maxsize=8)
def shipped(backend: str) -> GateModel | None:
    """The gate fitted for an embedding backend and shipped with the package (None: there is none)."""
    path = DATA_DIR / f"gate.{backend}.json"
    return GateModel.load(path) if path.is_file() else None
