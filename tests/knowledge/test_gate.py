"""The answerability gate: its features, its zones, and the checks on the file it is loaded from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from knowledge.gate import FEATURES, GateModel, features, shipped


@dataclass
class Passage:
    point_id: str
    title: str
    text: str
    scores: dict[str, float] = field(default_factory=dict)


FUND = Passage(
    "p1",
    "住房公积金提取管理办法",
    "第四条 租房提取每年最多可提取一次，每次不超过12000元。",
    {"dense": 0.6, "bm25": 14.0},
)
OTHER = Passage("p2", "养犬管理规定", "第二条 养犬应当办理登记。", {"dense": 0.3})


def test_features_read_how_much_of_the_question_the_best_passage_holds() -> None:
    near = features("租房提取公积金每次最多多少", [FUND, OTHER])
    far = features("租房提取公积金每次最多多少", [OTHER])
    assert near["pair_cover"] > far["pair_cover"] and near["word_cover"] > far["word_cover"]
    assert near["dense_top"] == 0.6 and near["dense_gap"] == pytest.approx(0.3)
    assert near["bm25_top"] == 14.0 and near["agree"] == 0.5  # one of two passages on both paths
    assert set(near) == set(FEATURES)


def test_no_passages_give_zero_features_not_an_error() -> None:
    empty = features("随便问问", [])
    assert all(empty[name] == 0.0 for name in FEATURES if name != "log_len")


def gate(low: float = 0.2, high: float = 0.8, **weights: float) -> GateModel:
    coef = tuple(weights.get(name, 0.0) for name in FEATURES)
    n = len(FEATURES)
    return GateModel("use", (0.0,) * n, (1.0,) * n, coef, 0.0, low, high)


def test_zones_follow_the_probability() -> None:
    model = gate(pair_cover=8.0)
    assert model.zone(model.probability({"pair_cover": -1.0})) == "refuse"
    assert model.zone(model.probability({"pair_cover": 0.0})) == "ask"  # p = 0.5
    assert model.zone(model.probability({"pair_cover": 1.0})) == "answer"
    assert 0.0 < model.probability({"pair_cover": 1e9}) <= 1.0  # no overflow


def test_a_gate_file_round_trips(tmp_path: Path) -> None:
    model = gate(pair_cover=2.0, dense_top=1.0)
    path = tmp_path / "gate.json"
    path.write_text(model.to_json(), encoding="utf-8")
    assert GateModel.load(path) == model


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"features": ["pair_cover", "made_up"]}, "unknown features"),
        ({"coef": [1.0]}, "one value per feature"),
        ({"low": 0.9, "high": 0.1}, "low <= high"),
        ({"scale": [0.0] * len(FEATURES)}, "scale must be positive"),
    ],
)
def test_a_gate_file_that_does_not_fit_is_refused_with_the_reason(
    tmp_path: Path, change: dict[str, object], reason: str
) -> None:
    data = json.loads(gate().to_json()) | change
    path = tmp_path / "gate.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=reason) as caught:
        GateModel.load(path)
    assert str(path) in str(caught.value)


def test_a_missing_or_broken_file_names_itself(tmp_path: Path) -> None:
    for path, content in ((tmp_path / "missing.json", None), (tmp_path / "broken.json", "{not json")):
        if content is not None:
            path.write_text(content, encoding="utf-8")
        with pytest.raises(ValueError, match="not a gate file"):
            GateModel.load(path)


def test_the_shipped_gate_loads_for_the_default_backend_and_none_for_an_unknown_one() -> None:
    model = shipped("use")
    assert model is not None and model.backend == "use" and 0 < model.low <= model.high < 1
    assert model.trained_on  # says what it was fitted on
    assert shipped("no-such-backend") is None
