"""Fitting the gate: cut-offs from out-of-fold probabilities, rows from run folders, halves by id."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from eval.harness.gate_fit import Row, apply, calibrate, cutoff_baseline, cutoffs, rows_from_runs
from eval.harness.suites import split_of
from knowledge.gate import FEATURES


def synthetic(n: int, seed: int = 1) -> list[Row]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        answerable = i % 3 != 0
        cover = rng.gauss(0.7 if answerable else 0.35, 0.12)
        feats = {name: rng.random() for name in FEATURES} | {"pair_cover": cover}
        rows.append(Row(f"s:{i}", feats, answerable))
    return rows


def test_cutoffs_put_high_above_every_unanswerable_and_low_within_the_false_refusal_budget() -> None:
    probs = np.array([0.1, 0.2, 0.3, 0.35, 0.5, 0.6, 0.7, 0.9, 0.95, 0.97])
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1, 1, 1])
    low, high = cutoffs(probs, y, max_false_refusals=0.2)
    assert high == pytest.approx(0.51)  # the highest unanswerable (0.5) + 0.01
    refused = int(((probs < low) & (y == 1)).sum())
    assert refused <= 0.2 * 6 and low <= high


def test_calibrate_learns_the_feature_that_separates_and_reports_cv_figures() -> None:
    rows = synthetic(120)
    gate, report = calibrate(rows, "use", folds=5, max_false_refusals=0.05, trained_on="synthetic")
    assert gate.coef[FEATURES.index("pair_cover")] > 0
    assert max(abs(c) for c in gate.coef) == abs(gate.coef[FEATURES.index("pair_cover")])
    zones = report["cv_zones"]
    assert zones["answerable"] == 80 and zones["unanswerable"] == 40
    assert zones["answerable_refused"] <= 4 and zones["unanswerable_sure"] == 0
    held = apply(gate, synthetic(60, seed=7))
    assert held["answerable_refused"] + held["unanswerable_passed"] < 30


def test_calibrate_refuses_too_few_questions() -> None:
    with pytest.raises(ValueError, match="at least 5"):
        calibrate(synthetic(9), "use")


def test_the_cutoff_baseline_counts_the_same_rows() -> None:
    rows = [
        Row("a", {"dense_top": 0.9, "bm25_top": 0.0}, True),
        Row("b", {"dense_top": 0.1, "bm25_top": 20.0}, False),
        Row("c", {"dense_top": 0.1, "bm25_top": 1.0}, True),
    ]
    assert cutoff_baseline(rows, 0.5, 12.0) == {"answerable_refused": 1, "unanswerable_passed": 1}


def test_rows_come_from_qa_items_that_recorded_features_and_keep_to_one_half(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    lines = []
    for i in range(40):
        out = {"gate": {"features": {"pair_cover": 0.5}}} if i != 3 else {}
        item = {"id": f"q{i}", "answerable": i % 2 == 0}
        lines.append(json.dumps({"task": "qa", "suite": "s", "input": item, "output": out}))
    lines.append(json.dumps({"task": "dispatch", "input": {"id": "d1"}, "output": {}}))
    (run / "items.jsonl").write_text("\n".join(lines) + "\n{torn", encoding="utf-8")
    everything = rows_from_runs([run])
    assert len(everything) == 39  # q3 recorded nothing, the dispatch item and the torn line are skipped
    dev = rows_from_runs([run], "dev")
    assert dev and all(split_of(r.key.split(":")[1]) == "dev" for r in dev)
    assert len(dev) + len(rows_from_runs([run], "test")) == 39
    with pytest.raises(ValueError, match=r"no items\.jsonl"):
        rows_from_runs([tmp_path / "nothing"])
