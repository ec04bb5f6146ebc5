"""``cityagent bench dispatch``: the dispatcher against a TF-IDF char n-gram + linear SVM baseline, and speed.

Quality: 5-fold stratified cross-validation on the TipDM messages (7 first-level
categories), macro-F1, accuracy and top-3 for the dispatcher and for the baseline at
three n-gram ranges (the best baseline is the one to beat). Speed: training on 5,000
orders, suggesting in batch and one at a time, with and without duty reasons (those
cost one embedding per order).
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from eval.bench.stats import summary_ms
from tools.csvio import decode_text
from tools.dispatch.model import DispatchModel, TrainingOrder

_SPACE = re.compile(r"\s+")


def load_tipdm(path: Path) -> list[TrainingOrder]:
    """The labelled messages as training orders (the category stands where a department would)."""
    rows = csv.DictReader(decode_text(path.read_bytes(), str(path)).splitlines())
    return [
        TrainingOrder(
            r["留言编号"],
            _SPACE.sub(" ", r["留言主题"]).strip(),
            _SPACE.sub(" ", r["留言详情"]).strip(),
            r["一级分类"],
        )
        for r in rows
    ]


def _cv(
    orders: list[TrainingOrder],
    predict: Callable[[list[TrainingOrder], list[TrainingOrder]], list[list[str]]],
) -> dict[str, float]:
    labels = np.array([o.department for o in orders])
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    top1: list[str] = [""] * len(orders)
    top3_hits = 0
    for train, test in folds.split(np.zeros(len(orders)), labels):
        ranked = predict([orders[i] for i in train], [orders[i] for i in test])
        for i, ranking in zip(test, ranked, strict=True):
            top1[i] = ranking[0]
            top3_hits += labels[i] in ranking[:3]
    return {
        "macro_f1": round(float(f1_score(labels, top1, average="macro")), 3),
        "accuracy": round(float(accuracy_score(labels, top1)), 3),
        "top3": round(top3_hits / len(orders), 3),
    }


def _baseline(
    ngrams: tuple[int, int],
) -> Callable[[list[TrainingOrder], list[TrainingOrder]], list[list[str]]]:
    def predict(train: list[TrainingOrder], test: list[TrainingOrder]) -> list[list[str]]:
        pipe = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=ngrams, sublinear_tf=True), LinearSVC()
        )
        pipe.fit([f"{o.title}。{o.text}" for o in train], [o.department for o in train])
        scores = pipe.decision_function([f"{o.title}。{o.text}" for o in test])
        classes = pipe.classes_
        return [[str(classes[j]) for j in np.argsort(-row)] for row in scores]

    return predict


def _ours(train: list[TrainingOrder], test: list[TrainingOrder]) -> list[list[str]]:
    model = DispatchModel().fit(train)
    suggestions = model.suggest_many([(o.title, o.text) for o in test], top=3, duty_reasons=False)
    return [[d.department for d in s.departments] for s in suggestions]


def _time_singles(model: DispatchModel, probe: list[tuple[str, str]]) -> dict[str, float]:
    """p50/p95 of suggesting one order at a time."""
    times = []
    for title, text in probe:
        started = time.perf_counter()
        model.suggest(title, text)
        times.append(time.perf_counter() - started)
    return summary_ms(times)


def run_dispatch_bench(tipdm: Path, synthetic: list[TrainingOrder], embed: Any) -> dict[str, Any]:
    """Quality on TipDM, speed on ``synthetic`` (5,000 generated demo orders)."""
    orders = load_tipdm(tipdm)
    result: dict[str, Any] = {"tipdm_messages": len(orders), "quality_5fold": {}}
    for ngrams in ((1, 2), (1, 3), (1, 4)):
        result["quality_5fold"][f"baseline_char{ngrams[0]}-{ngrams[1]}_linearsvc"] = _cv(
            orders, _baseline(ngrams)
        )
    result["quality_5fold"]["dispatcher"] = _cv(orders, _ours)
    best_baseline = max(v["macro_f1"] for k, v in result["quality_5fold"].items() if k.startswith("baseline"))
    result["macro_f1_above_best_baseline"] = round(
        result["quality_5fold"]["dispatcher"]["macro_f1"] - best_baseline, 3
    )

    started = time.perf_counter()
    model = DispatchModel().fit(synthetic)
    result["train_seconds"] = {"orders": len(synthetic), "seconds": round(time.perf_counter() - started, 1)}
    probe = [(o.title, o.text) for o in synthetic[:400]]
    started = time.perf_counter()
    model.suggest_many(probe, duty_reasons=False)
    result["batch_orders_per_s"] = round(len(probe) / (time.perf_counter() - started), 1)
    result["single_order"] = _time_singles(model, probe[:200])
    if embed is not None:
        from service.demo_city import DOCUMENTS_DIR  # noqa: PLC0415 - the demo duties only for this figure
        from tools.dispatch.duties import DutyTable  # noqa: PLC0415

        model.duties = DutyTable.from_document(DOCUMENTS_DIR / "23-12345热线派单目录及部门权责清单.md")
        model.use_embedder(embed)
        result["single_order_with_duty_reasons"] = _time_singles(model, probe[:100])
    return result
