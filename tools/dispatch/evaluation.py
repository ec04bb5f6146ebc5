"""``dispatch eval``: train on part of a history (or on one export), measure on the rest (or another).

Reports accuracy, macro-F1, top-3 accuracy, a confusion table (most frequent departments)
and a calibration table (are orders suggested with 80 % confidence right 80 % of the time?),
and always, on the same split, the baseline a city would try first: TF-IDF character
1–3-grams + a linear SVM. The model chooses its configuration by cross-validation on the
training part alone; the test part is scored once. The split is stratified; departments
with a single order stay in training.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from tools.dispatch.location import Gazetteer
from tools.dispatch.model import Choice, DispatchModel, TrainingOrder
from tools.dispatch.selection import LIBLINEAR
from tools.dispatch.units import current_name


@dataclass
class CalibrationBin:
    """Orders whose top confidence fell in [low, high)."""

    low: float
    high: float
    orders: int
    mean_confidence: float
    accuracy: float


@dataclass
class DispatchEvaluation:
    """What ``dispatch eval`` prints."""

    train_orders: int
    test_orders: int
    departments: int
    accuracy: float
    macro_f1: float
    top3_accuracy: float
    expected_calibration_error: float
    calibration: list[CalibrationBin] = field(default_factory=list)
    confusion_labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    category_accuracy: float | None = None
    urgency_accuracy: float | None = None
    baseline: dict[str, float] = field(default_factory=dict)
    top1_above_baseline: float = 0.0
    config: str = ""
    selection: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0


def split(
    orders: Sequence[TrainingOrder], test_fraction: float, seed: int
) -> tuple[list[TrainingOrder], list[TrainingOrder]]:
    """Stratified by department; a department with one order stays in training."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction must be between 0 and 1, got {test_fraction}")
    rng = random.Random(seed)  # noqa: S311 - a reproducible split, not cryptography
    by_department: dict[str, list[TrainingOrder]] = {}
    for order in orders:
        by_department.setdefault(order.department, []).append(order)
    train: list[TrainingOrder] = []
    test: list[TrainingOrder] = []
    for group in by_department.values():
        rng.shuffle(group)
        n_test = round(len(group) * test_fraction) if len(group) > 1 else 0
        n_test = min(n_test, len(group) - 1)
        test += group[:n_test]
        train += group[n_test:]
    return train, test


def baseline_rankings(train: Sequence[TrainingOrder], test: Sequence[TrainingOrder]) -> list[list[str]]:
    """TF-IDF character 1–3-grams of title and text + LinearSVC: every department, best first."""
    pipe = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True), LinearSVC(random_state=0)
    )
    with LIBLINEAR:  # liblinear's generator is process-wide (see tools.dispatch.selection)
        pipe.fit([f"{o.title}。{o.text}" for o in train], [o.department for o in train])
    scores = np.atleast_2d(pipe.decision_function([f"{o.title}。{o.text}" for o in test]))
    classes = pipe.classes_
    if scores.shape[1] == 1:  # two departments: one column of decision values
        scores = np.hstack([-scores, scores])
    return [[str(classes[j]) for j in np.argsort(-row)] for row in scores]


def ranking_scores(truth: Sequence[str], rankings: Sequence[Sequence[str]]) -> dict[str, float]:
    """Accuracy, macro-F1 and top-3 of rankings."""
    top1 = [r[0] for r in rankings]
    return {
        "accuracy": round(float(accuracy_score(truth, top1)), 4),
        "macro_f1": round(float(f1_score(truth, top1, average="macro", labels=sorted(set(truth)))), 4),
        "top3": round(float(np.mean([t in r[:3] for t, r in zip(truth, rankings, strict=True)])), 4),
    }


@dataclass(frozen=True)
class FitOptions:
    """How ``dispatch eval`` trains (the same as ``dispatch train``)."""

    metric: str = "accuracy"
    folds: int = 3
    select: bool = True
    renames: dict[str, str] = field(default_factory=dict)
    directory: dict[str, set[str]] = field(default_factory=dict)
    gazetteer: Gazetteer | None = None


def evaluate(
    orders: Sequence[TrainingOrder] = (),
    *,
    test_fraction: float = 0.3,
    seed: int = 0,
    train: Sequence[TrainingOrder] | None = None,
    test: Sequence[TrainingOrder] | None = None,
    options: FitOptions | None = None,
) -> DispatchEvaluation:
    """Train on one part, suggest for the other, and score, beside the baseline on the same split.

    Either ``orders`` (split by ``test_fraction``) or ``train`` and ``test`` (two exports).
    """
    options = options or FitOptions()
    if train is None or test is None:
        train, test = split(orders, test_fraction, seed)
    if not test:
        raise ValueError("the history is too small to hold out a test set")
    renamed = [replace(o, department=current_name(o.department, options.renames)) for o in test]
    model = DispatchModel(gazetteer=options.gazetteer).fit(
        train,
        select=options.select,
        metric=options.metric,
        folds=options.folds,
        renames=options.renames,
        directory=options.directory,
        seed=seed,
    )
    suggestions = model.suggest_many([o.document() for o in renamed], duty_reasons=False)
    truth = [o.department for o in renamed]
    top1 = [s.departments[0].department for s in suggestions]
    confidence = np.array([s.confidence for s in suggestions])
    correct = np.array([p == t for p, t in zip(top1, truth, strict=True)])
    top3 = np.mean(
        [t in {d.department for d in s.departments} for s, t in zip(suggestions, truth, strict=True)]
    )
    bins, ece = _calibration(confidence, correct)
    labels = [label for label, _ in Counter(truth).most_common(10)]
    renamed_train = [replace(o, department=current_name(o.department, options.renames)) for o in train]
    baseline = ranking_scores(truth, baseline_rankings(renamed_train, renamed))
    accuracy = round(float(accuracy_score(truth, top1)), 4)
    result = DispatchEvaluation(
        train_orders=len(train),
        test_orders=len(test),
        departments=len(set(truth) | set(o.department for o in renamed_train)),
        accuracy=accuracy,
        macro_f1=round(float(f1_score(truth, top1, average="macro", labels=sorted(set(truth)))), 4),
        top3_accuracy=round(float(top3), 4),
        expected_calibration_error=round(ece, 4),
        calibration=bins,
        confusion_labels=[*labels, "其他"],
        confusion=_confusion(truth, top1, labels),
        baseline=baseline,
        top1_above_baseline=round(accuracy - baseline["accuracy"], 4),
        config=model.config.label(),
        selection=list(model.selection.get("table", [])),
        train_seconds=model.info.seconds,
    )
    result.category_accuracy = _head_accuracy([s.category for s in suggestions], [o.category for o in test])
    result.urgency_accuracy = _head_accuracy([s.urgency for s in suggestions], [o.urgency for o in test])
    return result


def _head_accuracy(choices: Sequence[Choice | None], truth: Sequence[str]) -> float | None:
    """Accuracy of a category/urgency head, or None when the model or the history lacks it."""
    if not truth or not all(truth) or any(c is None for c in choices):
        return None
    return round(float(np.mean([c.label == t for c, t in zip(choices, truth, strict=True) if c])), 4)


def _calibration(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10
) -> tuple[list[CalibrationBin], float]:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins: list[CalibrationBin] = []
    ece = 0.0
    for low, high in itertools.pairwise(edges):
        mask = (confidence >= low) & ((confidence < high) if high < 1 else (confidence <= high))
        if not mask.any():
            continue
        mean_conf, acc = float(confidence[mask].mean()), float(correct[mask].mean())
        bins.append(
            CalibrationBin(
                round(float(low), 1),
                round(float(high), 1),
                int(mask.sum()),
                round(mean_conf, 3),
                round(acc, 3),
            )
        )
        ece += mask.mean() * abs(mean_conf - acc)
    return bins, float(ece)


def _confusion(truth: list[str], predicted: list[str], labels: list[str]) -> list[list[int]]:
    index = {label: i for i, label in enumerate(labels)}
    other = len(labels)
    table = [[0] * (len(labels) + 1) for _ in range(len(labels) + 1)]
    for t, p in zip(truth, predicted, strict=True):
        table[index.get(t, other)][index.get(p, other)] += 1
    return table
