"""Law first, then articles: the second stage of hybrid search.

A resident's question ("我购买一房，已入住六年了…") rarely shares words with the article a lawyer
cites, but the law that governs it shows through many of its articles at once. So the candidates
of both paths (dense and BM25) are grouped by law, each law is scored from how its articles rank
on each path, how well its title matches the question and a prior from the title's form and the
law's size (a national law such as 民法典 over a specialised regulation), and then every candidate
article is scored from its own ranks and its law's score. The answer leads with the best articles
and fills the rest with the best article of each next law, so the first five cover several laws.

Both scores are logistic regressions over the features below; their weights are data
(``lawfirst_weights.json``), fitted by ``cityagent bench knowledge --train-ranker`` on a
development suite with cross-validation (the figure to quote is the cross-validated one).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.index import Scored
from knowledge.sparse import tokens
from knowledge.supersede import base_title

WEIGHTS_FILE = Path(__file__).with_name("lawfirst_weights.json")
PATHS = ("bm25", "dense")  # the order of the per-path features
TITLE_TOP = 20  # laws brought in by their title alone
_LAW_TITLE = re.compile(r"(?<!办)法(典)?$")  # a law (法, 法典), not a 办法
_RULE_TITLE = re.compile(r"(规定|办法|细则|决定|通知|意见)")

LAW_FEATURES = (
    *(f"{p}_{f}" for p in PATHS for f in ("best", "top3", "log_count", "rr")),
    "title_score", "title_rr", "log_articles", "national", "law", "regulation", "rule",
)  # fmt: skip
ARTICLE_FEATURES = (*(f"{p}_{f}" for p in PATHS for f in ("score", "rr")), "law_logit", "law_rr")


def law_key(payload: Mapping[str, Any]) -> str:
    """The law an article belongs to: its title without a version suffix."""
    return base_title(str(payload.get("title", "")))


@dataclass
class LawTable:
    """Every law in the index with its number of articles, and a small BM25 over their titles."""

    sizes: dict[str, int]
    _postings: dict[str, list[tuple[str, float]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        terms = {law: Counter(tokens(law)) for law in self.sizes}
        df: Counter[str] = Counter(t for counts in terms.values() for t in counts)
        n = max(1, len(self.sizes))
        for law, counts in terms.items():
            for t, c in counts.items():
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                self._postings.setdefault(t, []).append((law, idf * 2.2 * c / (c + 1.2)))

    @classmethod
    def from_title_counts(cls, counts: Mapping[str, int]) -> LawTable:
        """Group raw document titles (several files, several versions) under their law."""
        sizes: Counter[str] = Counter()
        for title, count in counts.items():
            sizes[base_title(title)] += count
        return cls(dict(sizes))

    def title_scores(self, query: str) -> dict[str, float]:
        """BM25 of the question against each law's title (only laws sharing a term)."""
        scores: dict[str, float] = {}
        for t in set(tokens(query)):
            for law, weight in self._postings.get(t, ()):
                scores[law] = scores.get(law, 0.0) + weight
        return scores


def law_prior(law: str, articles: int) -> list[float]:
    """What a law's title and size say before the question is read."""
    return [
        math.log1p(articles),
        float(law.startswith("中华人民共和国")),
        float(bool(_LAW_TITLE.search(law))),
        float("条例" in law),
        float(bool(_RULE_TITLE.search(law))),
    ]


@dataclass(frozen=True)
class _PathStats:
    best: dict[str, float]
    top3: dict[str, float]
    count: Counter[str]
    rr: dict[str, float]


def _path_stats(results: Sequence[Scored]) -> _PathStats:
    top = results[0].score if results and results[0].score > 0 else 1.0
    best: dict[str, float] = {}
    top3: dict[str, float] = {}
    count: Counter[str] = Counter()
    rr: dict[str, float] = {}
    for rank, item in enumerate(results, start=1):
        law = law_key(item.payload)
        if count[law] < 3:
            top3[law] = top3.get(law, 0.0) + item.score / top
        count[law] += 1
        if law not in best:
            best[law], rr[law] = item.score / top, 1.0 / rank
    return _PathStats(best, top3, count, rr)


def law_features(
    rankings: Mapping[str, Sequence[Scored]], table: LawTable, query: str
) -> tuple[list[str], list[list[float]]]:
    """The candidate laws (found by a path or by title) and one feature row per law."""
    stats = {p: _path_stats(rankings.get(p, [])) for p in PATHS}
    titles = table.title_scores(query)
    by_title = sorted(titles, key=lambda law: -titles[law])[:TITLE_TOP]
    title_rr = {law: 1.0 / rank for rank, law in enumerate(by_title, start=1)}
    title_top = titles[by_title[0]] if by_title else 1.0
    laws = sorted({law for s in stats.values() for law in s.best} | set(by_title))
    rows = []
    for law in laws:
        row: list[float] = []
        for p in PATHS:
            s = stats[p]
            row += [s.best.get(law, 0.0), s.top3.get(law, 0.0), math.log1p(s.count[law]), s.rr.get(law, 0.0)]
        row += [titles.get(law, 0.0) / title_top, title_rr.get(law, 0.0)]
        row += law_prior(law, table.sizes.get(law, 1))
        rows.append(row)
    return laws, rows


@dataclass(frozen=True)
class Candidate:
    """A candidate article with the features the article score reads."""

    point_id: str
    payload: dict[str, Any]
    ranks: dict[str, int]
    scores: dict[str, float]
    features: list[float]


def article_features(
    rankings: Mapping[str, Sequence[Scored]], law_logit: Mapping[str, float], law_rank: Mapping[str, int]
) -> list[Candidate]:
    """Every article either path found, with its per-path score and rank and its law's score."""
    tops = {p: (r[0].score if r and r[0].score > 0 else 1.0) for p, r in rankings.items()}
    found: dict[str, tuple[dict[str, Any], dict[str, int], dict[str, float]]] = {}
    for path, results in rankings.items():
        for rank, item in enumerate(results, start=1):
            payload, ranks, scores = found.setdefault(item.point_id, (item.payload, {}, {}))
            ranks[path], scores[path] = rank, item.score
    candidates = []
    for pid, (payload, ranks, scores) in found.items():
        law = law_key(payload)
        row: list[float] = []
        for p in PATHS:
            row += [scores[p] / tops[p], 1.0 / ranks[p]] if p in ranks else [0.0, 0.0]
        row += [law_logit.get(law, -20.0), 1.0 / law_rank.get(law, 1000)]
        candidates.append(Candidate(pid, payload, ranks, scores, row))
    return candidates


@dataclass(frozen=True)
class Linear:
    """A fitted linear score: standardise, then ``w·x + b``."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def __call__(self, row: Sequence[float]) -> float:
        """The score of one feature row."""
        return self.intercept + sum(
            w * (x - m) / s for w, x, m, s in zip(self.coef, row, self.mean, self.scale, strict=True)
        )

    def to_json(self) -> dict[str, Any]:
        """The fields, for the weights file."""
        return {"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], width: int) -> Linear:
        """Read one score; the width must match the feature list it was fitted on."""
        mean, scale, coef = (tuple(float(x) for x in data[k]) for k in ("mean", "scale", "coef"))
        if not len(mean) == len(scale) == len(coef) == width:
            raise ValueError(f"expected {width} weights, found {len(mean)}, {len(scale)}, {len(coef)}")
        return cls(mean, scale, coef, float(data["intercept"]))


@dataclass(frozen=True)
class RankerWeights:
    """The law score, the article score, and how many best articles lead before one per law."""

    law: Linear
    article: Linear
    lead: int = 2

    def to_json(self) -> dict[str, Any]:
        """The weights file's content."""
        return {
            "law_features": LAW_FEATURES, "article_features": ARTICLE_FEATURES,
            "law": self.law.to_json(), "article": self.article.to_json(), "lead": self.lead,
        }  # fmt: skip

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> RankerWeights:
        """Read a weights file (``ValueError`` naming the file when it does not fit this code)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if list(data["law_features"]) != list(LAW_FEATURES) or list(data["article_features"]) != list(
                ARTICLE_FEATURES
            ):
                raise ValueError("its feature names differ from this version's")
            return cls(
                Linear.from_json(data["law"], len(LAW_FEATURES)),
                Linear.from_json(data["article"], len(ARTICLE_FEATURES)),
                int(data.get("lead", 2)),
            )
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"law-first weights {path}: {exc}") from exc


@dataclass(frozen=True)
class Ranked:
    """One article of the answer, with its final score and its law's rank."""

    candidate: Candidate
    score: float
    law_rank: int


def rank_laws(
    rankings: Mapping[str, Sequence[Scored]], table: LawTable, query: str, score: Linear
) -> tuple[dict[str, float], dict[str, int], list[str]]:
    """Law scores, law ranks (1-based) and the laws best first."""
    laws, rows = law_features(rankings, table, query)
    logits = {law: score(row) for law, row in zip(laws, rows, strict=True)}
    order = sorted(laws, key=lambda law: -logits[law])
    return logits, {law: i for i, law in enumerate(order, start=1)}, order


def arrange(
    scored: Sequence[tuple[Candidate, float]], law_order: Sequence[str], lead: int, k: int, spread: int = 5
) -> list[tuple[Candidate, float]]:
    """The ``lead`` best articles, then the best article of each next law up to ``spread``, then the rest."""
    ordered = sorted(scored, key=lambda pair: -pair[1])
    out = list(ordered[:lead])
    laws = {law_key(c.payload) for c, _ in out}
    best_of: dict[str, tuple[Candidate, float]] = {}
    for pair in ordered:
        best_of.setdefault(law_key(pair[0].payload), pair)
    for law in law_order:
        if len(out) >= min(spread, k):
            break
        if law not in laws and law in best_of:
            out.append(best_of[law])
            laws.add(law)
    taken = {c.point_id for c, _ in out}
    out += [pair for pair in ordered if pair[0].point_id not in taken]
    return out[:k]


def law_first(
    rankings: Mapping[str, Sequence[Scored]], table: LawTable, query: str, weights: RankerWeights, k: int
) -> list[Ranked]:
    """The ``k`` best articles, law first (see the module docstring)."""
    logits, law_rank, order = rank_laws(rankings, table, query, weights.law)
    candidates = article_features(rankings, logits, law_rank)
    scored = [(c, weights.article(c.features)) for c in candidates]
    return [
        Ranked(c, s, law_rank.get(law_key(c.payload), 0)) for c, s in arrange(scored, order, weights.lead, k)
    ]
