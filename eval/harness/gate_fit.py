"""Fit the answerability gate (``knowledge.gate``) on labelled questions, with cross-validation.

The training rows come from evaluation runs: every ``qa`` item records the gate's features of
the passages it retrieved (``output.gate.features``) and the suite says whether the item is
answerable. The regularisation strength is chosen by stratified k-fold cross-validation (log
loss of the out-of-fold probabilities); the two cut-offs are read off those out-of-fold
probabilities, never off the probabilities of the rows a model was fitted on:

* ``high``: above every unanswerable question's probability, so that overruling the model's
  "not covered" never puts an answer on a question the documents do not answer;
* ``low``: the highest cut-off that refuses at most ``max_false_refusals`` of the answerable
  questions before the model sees them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from eval.harness.suites import split_of
from knowledge.gate import FEATURES, GateModel

C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass(frozen=True)
class Row:
    """One labelled question: its features and whether the documents answer it."""

    key: str
    features: dict[str, float]
    answerable: bool


def rows_from_runs(runs: Iterable[Path], split: str | None = None) -> list[Row]:
    """The ``qa`` items of run folders that recorded gate features (``split``: dev/test half only)."""
    rows: dict[str, Row] = {}
    for run in runs:
        path = run / "items.jsonl"
        if not path.is_file():
            raise ValueError(f"{run}: no items.jsonl (not a run folder)")
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line
            out = row.get("output") or {}
            feats = (out.get("gate") or {}).get("features")
            if row.get("task") != "qa" or not feats:
                continue
            item_id = str(row["input"]["id"])
            if split is not None and split_of(item_id) != split:
                continue
            key = f"{row.get('suite', '')}:{item_id}"
            answerable = bool(row["input"].get("answerable", True))
            rows[key] = Row(key, {k: float(feats.get(k, 0.0)) for k in FEATURES}, answerable)
    return list(rows.values())


def _matrix(rows: Sequence[Row]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[r.features[k] for k in FEATURES] for r in rows], dtype=float)
    y = np.array([int(r.answerable) for r in rows])
    return x, y


def _fit(x: np.ndarray, y: np.ndarray, c: float) -> tuple[LogisticRegression, np.ndarray, np.ndarray]:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    model.fit((x - mean) / scale, y)
    return model, mean, scale


def out_of_fold(x: np.ndarray, y: np.ndarray, c: float, folds: int, seed: int = 0) -> np.ndarray:
    """Each row's probability from a model fitted without it."""
    probs = np.zeros(len(y))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        model, mean, scale = _fit(x[train], y[train], c)
        probs[test] = model.predict_proba((x[test] - mean) / scale)[:, 1]
    return probs


def cutoffs(probs: np.ndarray, y: np.ndarray, max_false_refusals: float) -> tuple[float, float]:
    """``low`` and ``high`` read off out-of-fold probabilities (see the module's docstring)."""
    unanswerable = probs[y == 0]
    answerable = np.sort(probs[y == 1])
    high = min(float(unanswerable.max()) + 0.01, 0.995) if len(unanswerable) else 0.5
    allowed = math.floor(max_false_refusals * len(answerable))
    low = float(answerable[allowed]) if len(answerable) > allowed else 0.5
    return min(low, high), high


def zone_figures(probs: np.ndarray, y: np.ndarray, low: float, high: float) -> dict[str, Any]:
    """What the zones do to these questions, before any model speaks."""
    ans, una = probs[y == 1], probs[y == 0]
    return {
        "answerable": len(ans), "unanswerable": len(una),
        "answerable_refused": int((ans < low).sum()), "unanswerable_passed": int((una >= low).sum()),
        "answerable_sure": int((ans >= high).sum()), "unanswerable_sure": int((una >= high).sum()),
    }  # fmt: skip


def cutoff_baseline(rows: Sequence[Row], dense: float, bm25: float) -> dict[str, Any]:
    """The fixed cut-offs on the same rows: evidence when the best cosine or BM25 clears its bar."""
    passed = [r.features["dense_top"] >= dense or r.features["bm25_top"] >= bm25 for r in rows]
    return {
        "answerable_refused": sum(1 for r, p in zip(rows, passed, strict=True) if r.answerable and not p),
        "unanswerable_passed": sum(1 for r, p in zip(rows, passed, strict=True) if not r.answerable and p),
    }


def calibrate(
    rows: Sequence[Row],
    backend: str,
    *,
    folds: int = 5,
    max_false_refusals: float = 0.02,
    trained_on: str = "",
) -> tuple[GateModel, dict[str, Any]]:
    """The gate fitted on all rows, and the cross-validated figures that chose it."""
    x, y = _matrix(rows)
    if len(set(y.tolist())) < 2 or min(np.bincount(y)) < folds:
        raise ValueError(f"need at least {folds} answerable and {folds} unanswerable questions")
    table = []
    for c in C_GRID:
        probs = np.clip(out_of_fold(x, y, c, folds), 1e-6, 1 - 1e-6)
        loss = float(-np.mean(y * np.log(probs) + (1 - y) * np.log(1 - probs)))
        table.append((loss, c, probs))
    loss, c, probs = min(table, key=lambda t: t[0])
    low, high = cutoffs(probs, y, max_false_refusals)
    model, mean, scale = _fit(x, y, c)
    gate = GateModel(
        backend=backend, mean=tuple(float(v) for v in mean), scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in model.coef_[0]), intercept=float(model.intercept_[0]),
        low=round(low, 4), high=round(high, 4), trained_on=trained_on,
        notes=f"C={c} by {folds}-fold CV (log loss {loss:.3f}); {len(rows)} questions",
    )  # fmt: skip
    report = {
        "rows": len(rows), "C": c, "cv_log_loss": round(loss, 4),
        "cv_by_C": {str(cc): round(ll, 4) for ll, cc, _ in table},
        "cutoffs": {"low": gate.low, "high": gate.high},
        "cv_zones": zone_figures(probs, y, low, high),
    }  # fmt: skip
    return gate, report


def apply(gate: GateModel, rows: Sequence[Row]) -> dict[str, Any]:
    """A fitted gate's zones on rows it was not fitted on."""
    _, y = _matrix(rows)
    probs = np.array([gate.probability(r.features) for r in rows])
    return zone_figures(probs, y, gate.low, gate.high) if len(rows) else {}
