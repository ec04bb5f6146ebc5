"""The learner comparison runs the shipped setting under screen_training's protocol and gets its figures."""

from __future__ import annotations

import numpy as np

from agents.resident import textscore
from eval.bench import screen_compare as compare


def test_the_shipped_setting_under_the_comparison_reproduces_the_shipped_held_out_figures() -> None:
    shipped = next(c for c in compare.candidates() if "(shipped)" in c.name)
    meta = textscore.load("emergency").meta
    row, caught = compare.evaluate(shipped)
    assert row["model_recall"] == meta["held_out"]["recall"]
    assert row["model_false_alarms_open"] == meta["held_out"]["false_alarms"]
    assert caught.dtype == bool and np.isclose(caught.mean(), row["model_recall"], atol=1e-4)
    # a looser budget never lowers the recall
    budgets = [row[f"model_recall_at_{b:g}"] for b in compare.BUDGETS]
    assert budgets == sorted(budgets)


def test_counter_cue_features_name_the_cue_and_words_come_from_the_segmenter() -> None:
    analyse = compare.chars_and_cues(1, 2)
    assert "cue:past" in analyse("着火\tpast")
    assert not any(g.startswith("cue:") for g in analyse("着火\t"))
    words = compare.chars_and_words(1, 1)("楼上着火了")
    assert "楼" in words and any(w.startswith("w:") and len(w) > 3 for w in words)


def test_one_baseline_after_the_shipped_setting_and_a_readable_table() -> None:
    names = [c.name for c in compare.candidates()]
    assert sum("baseline" in n for n in names) == 1 and names[0].endswith("(shipped)")
    at = {f"model_recall_at_{b:g}": r for b, r in zip(compare.BUDGETS, (0.5, 0.6, 0.7), strict=True)}
    table = compare.markdown(
        [{"candidate": "x", **at, "open_recall": "1/2", "detector_recall": 0.9, "detector_false_alarms": 0.0}]
    )
    assert "| x | 0.500 / 0.600 / 0.700 |" in table and "0.900, 0.0 %" in table
