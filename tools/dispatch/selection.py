"""The model chooses itself on the city's own history: a small fixed family, k-fold cross-validation.

Only the training history is read: its folds score each configuration, and the best by
the city's metric (top-1 accuracy by default, or macro-F1) is kept, with the whole table.
Vectorizers are fitted once on the training history (they see no label) and shared by every
configuration and fold; the nearest-case and mention blends are added to out-of-fold SVM
scores, so trying their weights costs no refit. The chosen configuration's out-of-fold
scores also fit its softmax temperature, so confidences are calibrated on orders the SVM
did not see.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from tools.dispatch.features import BlockCache, FeatureConfig, OrderFeatures, OrderText
from tools.dispatch.location import Gazetteer
from tools.dispatch.units import UnitNames

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int_]
METRICS = ("accuracy", "macro_f1")
MISSING = -10.0  # the score of a class a fold's training part never saw
KNN_K = 10
FOLDS = 3  # 5 folds cost 5/3 the time for a steadier estimate: ``dispatch train --folds 5``
TOL = 1e-3  # liblinear's tolerance: half the time of the default 1e-4, the same held-out accuracy
WORKERS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2))
# liblinear draws its coordinate order from one process-wide Mersenne Twister that ``random_state``
# reseeds at the start of each fit: two fits in different threads interleave their draws and give
# different models run to run. Fits take this lock; scoring and nearest-case votes still run side by side.
LIBLINEAR = threading.Lock()


def fit_svm(svm: LinearSVC, x: sparse.csr_matrix, y: npt.NDArray[Any]) -> LinearSVC:
    """``svm.fit(x, y)`` under :data:`LIBLINEAR`, so the same data always gives the same model."""
    with LIBLINEAR:
        return svm.fit(x, y)


@dataclass(frozen=True)
class Config:
    """One configuration: features, the SVM, and the blends added to its scores."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    c: float = 1.0
    class_weight: str | None = "balanced"
    knn_weight: float = 0.5
    mention_weight: float = 0.0

    def label(self) -> str:
        """Short and readable."""
        weight = self.class_weight or "none"
        return (
            f"{self.features.label()} C={self.c:g} cw={weight} knn={self.knn_weight:g} "
            f"mention={self.mention_weight:g}"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def knn_votes(sims: FloatArray, labels: IntArray, n_classes: int, k: int = KNN_K) -> FloatArray:
    """Per class, the similarity-weighted share of the ``k`` most similar past orders (rows sum to 1)."""
    if sims.shape[1] == 0:
        return np.zeros((sims.shape[0], n_classes))
    k = min(k, sims.shape[1])
    top = np.argpartition(-sims, kth=k - 1, axis=1)[:, :k]
    rows = np.broadcast_to(np.arange(sims.shape[0])[:, None], top.shape)
    votes = np.zeros((sims.shape[0], n_classes))
    np.add.at(votes, (rows, labels[top]), np.clip(sims[rows, top], 0.0, None))
    total = votes.sum(axis=1, keepdims=True)
    result: FloatArray = votes / np.where(total > 0, total, 1.0)
    return result


def svm_scores(svm: LinearSVC, x: sparse.csr_matrix, classes: Sequence[str]) -> FloatArray:
    """Decision values in ``classes`` order (a class the SVM never saw scores ``MISSING``)."""
    raw = svm.decision_function(x)
    if raw.ndim == 1:
        raw = np.stack([-raw, raw], axis=1)
    index = {c: i for i, c in enumerate(classes)}
    full = np.full((x.shape[0], len(classes)), MISSING)
    for j, cls in enumerate(svm.classes_):
        full[:, index[cls]] = raw[:, j]
    return full


def folds_of(labels: Sequence[str], k: int, seed: int) -> list[tuple[IntArray, IntArray]]:
    """Stratified folds over the training history (labels rarer than ``k`` stratified together)."""
    y = np.asarray(labels)
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    stratify = np.array([label if counts[label] >= k else "_rare" for label in y])
    if min(np.unique(stratify, return_counts=True)[1]) < k:
        stratify = np.zeros(len(y))
    splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
    return [(train, test) for train, test in splitter.split(np.zeros(len(y)), stratify)]


@dataclass
class OutOfFold:
    """Out-of-fold parts of one (features, C, class weight): SVM scores, nearest-case votes, mentions."""

    svm: FloatArray
    knn: FloatArray
    mentions: FloatArray

    def blended(self, knn_weight: float, mention_weight: float) -> FloatArray:
        """SVM scores plus the blends."""
        return self.svm + knn_weight * self.knn + mention_weight * self.mentions


def out_of_fold(
    x: sparse.csr_matrix,
    truth: IntArray,
    classes: Sequence[str],
    folds: Sequence[tuple[IntArray, IntArray]],
    *,
    c: float,
    class_weight: str | None,
    mentions: FloatArray,
) -> OutOfFold:
    """Fit one SVM per fold on its training part; score its held-out part."""
    y = np.asarray(classes)[truth]
    scores = np.full((len(truth), len(classes)), MISSING)
    knn = np.zeros((len(truth), len(classes)))
    unit = normalize(x)

    def one(train: IntArray, test: IntArray) -> None:
        if len(set(truth[train])) < 2:
            return
        svm = fit_svm(LinearSVC(C=c, class_weight=class_weight, tol=TOL, random_state=0), x[train], y[train])
        scores[test] = svm_scores(svm, x[test], classes)
        sims = (unit[test] @ unit[train].T).toarray()
        knn[test] = knn_votes(sims, truth[train], len(classes))

    # the fits take turns (see LIBLINEAR); each fold's scoring and similarities overlap the next fit
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for done in [pool.submit(one, train, test) for train, test in folds]:
            done.result()
    return OutOfFold(scores, knn, mentions)


def score(blended: FloatArray, truth: IntArray) -> dict[str, float]:
    """Top-1, top-3 and macro-F1 of out-of-fold scores."""
    top1 = blended.argmax(axis=1)
    top3 = np.argsort(-blended, axis=1, kind="stable")[:, :3]
    return {
        "accuracy": round(float((top1 == truth).mean()), 4),
        "top3": round(float((top3 == truth[:, None]).any(axis=1).mean()), 4),
        "macro_f1": round(float(f1_score(truth, top1, average="macro", labels=np.unique(truth))), 4),
    }


@dataclass
class Selection:
    """What the selection chose, the whole table, and the chosen configuration's out-of-fold scores."""

    chosen: Config
    metric: str
    folds: int
    table: list[dict[str, Any]]
    seconds: float
    oof: FloatArray = field(repr=False)
    fold_indices: list[list[int]] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        """For the model's metadata (JSON-ready)."""
        return {
            "chosen": self.chosen.as_dict(),
            "chosen_label": self.chosen.label(),
            "metric": self.metric,
            "folds": self.folds,
            "seconds": self.seconds,
            "table": self.table,
        }


def feature_family(has_address: bool, has_notes: bool, has_titles: bool) -> list[FeatureConfig]:
    """The feature sets tried, in order (the first is the shipped one; a tie keeps the earlier)."""
    base = [
        FeatureConfig((1, 2), True, 1.0),
        FeatureConfig((1, 3), True, 1.0),
        FeatureConfig((1, 3), False, 1.0),
    ]
    if has_titles:
        base.append(FeatureConfig((1, 3), True, 2.0))
    if has_address or has_notes:
        base = [replace(f, location=has_address, notes=has_notes) for f in base] + [base[1]]
    return base


BLENDS_KNN = (0.0, 0.5, 1.0)
BLENDS_MENTION = (0.0, 0.5, 1.0)


def _best_config(best: tuple[Any, int, Config, OutOfFold] | None) -> Config:
    if best is None:
        raise ValueError("the configuration family is empty")
    return best[2]


def select(
    docs: Sequence[OrderText],
    labels: Sequence[str],
    *,
    metric: str = "accuracy",
    k: int = FOLDS,
    seed: int = 0,
    gazetteer: Gazetteer | None = None,
    units: UnitNames | None = None,
    cache: BlockCache | None = None,
) -> Selection:
    """Choose a configuration on ``docs``/``labels`` (the training history only) by ``k``-fold CV."""
    if metric not in METRICS:
        raise ValueError(f"unknown selection metric {metric!r}: use one of {', '.join(METRICS)}")
    started = time.perf_counter()
    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    truth = np.array([index[label] for label in labels], dtype=np.int_)
    folds = folds_of(labels, k, seed)
    cache = {} if cache is None else cache
    mentions = (
        units.mention_matrix([f"{d.notes} {d.full}" for d in docs], classes)
        if units is not None
        else np.zeros((len(docs), len(classes)))
    )
    mention_weights = BLENDS_MENTION if mentions.any() else (0.0,)
    has = (any(d.address for d in docs), any(d.notes for d in docs), any(d.title for d in docs))
    table: list[dict[str, Any]] = []
    best: tuple[tuple[float, float], int, Config, OutOfFold] | None = None  # (figures, row, config, scores)

    def run(features: FeatureConfig, c: float, class_weight: str | None) -> None:
        nonlocal best
        x = OrderFeatures(features, gazetteer).fit_transform(docs, cache)
        oof = out_of_fold(x, truth, classes, folds, c=c, class_weight=class_weight, mentions=mentions)
        for knn_weight in BLENDS_KNN:
            for mention_weight in mention_weights:
                config = Config(features, c, class_weight, knn_weight, mention_weight)
                figures = score(oof.blended(knn_weight, mention_weight), truth)
                table.append({"config": config.label(), **figures})
                key = (figures[metric], figures["top3"])
                if best is None or key > best[0]:
                    best = (key, len(table), config, oof)

    for features in feature_family(*has):
        run(features, 1.0, None)
    leader = _best_config(best)
    run(leader.features, 1.0, "balanced")
    leader = _best_config(best)
    for c in (0.3, 3.0):
        run(leader.features, c, leader.class_weight)
    if best is None:
        raise ValueError("the configuration family is empty")
    _, _, chosen, oof = best
    return Selection(
        chosen=chosen,
        metric=metric,
        folds=k,
        table=table,
        seconds=round(time.perf_counter() - started, 1),
        oof=oof.blended(chosen.knn_weight, chosen.mention_weight),
        fold_indices=[sorted(int(i) for i in test) for _, test in folds],
    )
