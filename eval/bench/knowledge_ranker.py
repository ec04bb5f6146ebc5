"""Fitting the law-first ranker (``knowledge.lawfirst``) on a development suite, with cross-validation.

Both paths' candidates are fetched once per question; every fold then fits the law score on
the other folds' questions (label: the law is a gold law), the article score on the same
questions (label: the article is a gold article, its law score a feature), chooses how many
best articles lead the answer on those questions, and ranks its own questions with what it
fitted. The cross-validated figures are the ones to quote; the weights written to the file are
fitted on the whole suite with the same choices.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from eval.retrieval import RetrievalItem, RetrievalScores, score_retrieval
from knowledge.index import Scored
from knowledge.lawfirst import (
    LawTable,
    Linear,
    RankerWeights,
    arrange,
    article_features,
    law_features,
    law_key,
)
from knowledge.supersede import base_title

Rankings = Mapping[str, Sequence[Scored]]
LEADS = (1, 2, 3)
FOLDS = 5


def fit_logistic(x: npt.NDArray[np.float64], y: npt.NDArray[np.bool_], l2: float = 1.0) -> Linear:
    """Class-balanced, L2-regularised logistic regression on standardised features (Newton steps)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    positives = max(1, int(y.sum()))
    weight = np.where(y, len(y) / (2 * positives), len(y) / (2 * max(1, len(y) - positives)))
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (weight * (p - y)) + penalty * w
        hess = (z * (weight * p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return Linear(tuple(mean), tuple(scale), tuple(w[:-1]), float(w[-1]))


@dataclass(frozen=True)
class _Question:
    item: RetrievalItem
    rankings: Rankings
    laws: list[str]
    law_rows: list[list[float]]
    law_labels: list[bool]


def _gold_laws(item: RetrievalItem) -> set[str]:
    return {base_title(title) for title, _ in item.gold}


def _is_gold(payload: Mapping[str, Any], item: RetrievalItem) -> bool:
    return any(
        law_key(payload) == base_title(t) and str(payload.get("article", "")) == a for t, a in item.gold
    )


def _prepare(
    items: Sequence[RetrievalItem], rankings: Sequence[Rankings], table: LawTable
) -> list[_Question]:
    out = []
    for item, ranking in zip(items, rankings, strict=True):
        laws, rows = law_features(ranking, table, item.question)
        gold = _gold_laws(item)
        out.append(_Question(item, ranking, laws, rows, [law in gold for law in laws]))
    return out


def _ranked(q: _Question, law: Linear, article: Linear | None, lead: int) -> list[dict[str, Any]]:
    logits = {name: law(row) for name, row in zip(q.laws, q.law_rows, strict=True)}
    order = sorted(q.laws, key=lambda name: -logits[name])
    rank = {name: i for i, name in enumerate(order, start=1)}
    candidates = article_features(q.rankings, logits, rank)
    if article is None:
        return [c.payload for c in candidates]
    scored = [(c, article(c.features)) for c in candidates]
    return [c.payload for c, _ in arrange(scored, order, lead, 10)]


def _fit(train: Sequence[_Question]) -> tuple[RankerWeights, dict[int, float]]:
    law = fit_logistic(
        np.array([row for q in train for row in q.law_rows], dtype=np.float64),
        np.array([label for q in train for label in q.law_labels], dtype=np.bool_),
    )
    rows: list[list[float]] = []
    labels: list[bool] = []
    for q in train:
        logits = {name: law(row) for name, row in zip(q.laws, q.law_rows, strict=True)}
        order = sorted(q.laws, key=lambda name: -logits[name])
        for c in article_features(q.rankings, logits, {n: i for i, n in enumerate(order, start=1)}):
            rows.append(c.features)
            labels.append(_is_gold(c.payload, q.item))
    article = fit_logistic(np.array(rows, dtype=np.float64), np.array(labels, dtype=np.bool_))
    by_lead = {}
    for lead in LEADS:  # chosen on the training questions: law and article recall@5 count the same
        s = _score(train, law, article, lead)
        by_lead[lead] = s.recall_at_k + s.law_recall_at_k
    best = max(LEADS, key=lambda lead: by_lead[lead])
    return RankerWeights(law, article, best), by_lead


def _score(qs: Sequence[_Question], law: Linear, article: Linear, lead: int) -> RetrievalScores:
    answers = {q.item.question: _ranked(q, law, article, lead) for q in qs}
    return score_retrieval([q.item for q in qs], answers.__getitem__)


def scores_dict(s: RetrievalScores) -> dict[str, float]:
    """The four figures of a scored suite."""
    return {
        "law_recall_at_5": round(s.law_recall_at_k, 3), "law_mrr_at_10": round(s.law_mrr_at_10, 3),
        "article_recall_at_5": round(s.recall_at_k, 3), "article_mrr_at_10": round(s.mrr_at_10, 3),
    }  # fmt: skip


def train_law_first(
    items: Sequence[RetrievalItem],
    fetch: Callable[[str], Rankings],
    table: LawTable,
    folds: int = FOLDS,
    seed: int = 7,
) -> tuple[RankerWeights, dict[str, Any]]:
    """Cross-validated figures of the law-first ranker, and weights fitted on every item."""
    questions = _prepare(items, [fetch(item.question) for item in items], table)
    order = list(range(len(questions)))
    random.Random(seed).shuffle(order)  # noqa: S311 - reproducible folds, not cryptography
    parts = [sorted(order[i::folds]) for i in range(folds)]
    answers: dict[str, list[dict[str, Any]]] = {}
    chosen = []
    for part in parts:
        held = set(part)
        weights, _ = _fit([q for i, q in enumerate(questions) if i not in held])
        chosen.append(weights.lead)
        for i in part:
            answers[questions[i].item.item_id] = _ranked(
                questions[i], weights.law, weights.article, weights.lead
            )
    by_question = {q.item.question: q.item.item_id for q in questions}
    cv = score_retrieval(items, lambda question: answers[by_question[question]])
    final, _ = _fit(questions)
    report = {
        "folds": folds, "cross_validated": scores_dict(cv), "lead_chosen_per_fold": chosen,
        "lead_on_whole_suite": final.lead,
        "fitted_on_whole_suite": scores_dict(_score(questions, final.law, final.article, final.lead)),
    }  # fmt: skip
    return final, report
