"""The character n-gram models: pure-Python scores equal scikit-learn's; shipped files are the trainer's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agents.resident import textscore
from agents.resident.textscore import ModelFileError, char_grams
from eval.bench import screen_training as training

TEXTS = ["楼上着火了", "燃气费怎么交", "电梯困人了快来", "电梯年检什么时候", "有人晕倒了", "居住证怎么办"]
LABELS = np.array([1, 0, 1, 0, 1, 0])


def test_char_grams_pad_the_text_and_skip_the_bare_pads() -> None:
    assert char_grams("着火", 1, 2) == ["着", "火", "^着", "着火", "火$"]


def test_pure_python_probabilities_equal_scikit_learns() -> None:
    every = np.ones(len(TEXTS), dtype=bool)
    model = training.fit(TEXTS, {"e": (every, LABELS)}, low=1, high=3, c=10.0, threshold=0.5, meta={})
    vec = training._vectoriser(1, 3)
    clf = training._logit(10.0).fit(vec.fit_transform(TEXTS), LABELS)
    unseen = ["隔壁着火了", "燃气费在哪交", "好多烟", "完全无关的一句话", ""]
    expected = clf.predict_proba(vec.transform(unseen))[:, 1]
    got = [model.probabilities(t)["e"] for t in unseen]
    assert np.allclose(got, expected, atol=1e-4)
    assert got[0] > 0.5 > got[1]


@pytest.mark.parametrize(
    ("name", "data", "heads"),
    [
        ("emergency", training.emergency_data, ("emergency", "119", "120", "110")),
        ("abuse", training.abuse_data, ("abuse",)),
    ],
)
def test_the_shipped_model_is_what_the_trainer_fits_with_its_settings(name: str, data, heads) -> None:  # type: ignore[no-untyped-def]
    path = textscore.DATA / f"{name}_model.json"
    shipped = textscore.load(name)
    assert shipped.heads == heads and 0 < shipped.threshold < 1
    assert shipped.meta["trained_on"] == sorted(p.name for p in training.DEV.glob(f"{name}_dev*.jsonl"))
    assert not any("suites" in f for f in shipped.meta["trained_on"])
    assert training.dump(training.refit(data(), shipped)) == path.read_text(encoding="utf-8"), (
        "stale model: run python -m eval.bench.screen_training"
    )


def test_a_broken_model_file_says_which_and_why(tmp_path: Path) -> None:
    raw = json.loads((textscore.DATA / "abuse_model.json").read_text(encoding="utf-8"))
    raw["bias"] = []
    (tmp_path / "abuse_model.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"abuse_model\.json"):
        textscore.load("abuse", tmp_path)
    with pytest.raises(ModelFileError, match="cannot be read"):
        textscore.load("missing", tmp_path)
    with pytest.raises(ModelFileError, match="format"):
        textscore.from_json({**raw, "format": "other"}, "x")
