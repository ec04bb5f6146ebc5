"""The dispatcher chooses itself on the training history only; location, notes, mentions and renames."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.demo_city import WORK_ORDERS_CSV
from service.demo_city.geography import gazetteer
from tools.dispatch.evaluation import FitOptions, evaluate
from tools.dispatch.features import OrderText
from tools.dispatch.history import read_history
from tools.dispatch.inputs import columns_of, load_orders
from tools.dispatch.location import Gazetteer, extract_location
from tools.dispatch.model import DispatchModel, TrainingOrder
from tools.dispatch.selection import select
from tools.dispatch.units import UnitNames, read_renames


@pytest.fixture(scope="module")
def demo() -> list[TrainingOrder]:
    rows, _ = read_history(WORK_ORDERS_CSV)
    orders = [TrainingOrder.from_history_row(r) for r in rows]
    random.Random(3).shuffle(orders)
    return orders[:400]


def test_the_test_split_cannot_change_the_chosen_configuration(demo: list[TrainingOrder]) -> None:
    train, test = demo[:300], demo[300:]
    departments = sorted({o.department for o in demo})
    poisoned = [  # garbage texts and wrong labels: if selection saw them, the table would change
        replace(o, text="测试" * (i % 7 + 1), title="", department=departments[i % len(departments)])
        for i, o in enumerate(test)
    ]
    options = FitOptions(folds=3)
    clean = evaluate(train=train, test=test, options=options)
    dirty = evaluate(train=train, test=poisoned, options=options)
    assert clean.config == dirty.config and clean.selection == dirty.selection
    assert clean.accuracy > dirty.accuracy  # the poison did reach the scoring


def test_folds_cover_the_training_history_and_nothing_else(demo: list[TrainingOrder]) -> None:
    train = demo[:240]
    chosen = select([o.document() for o in train], [o.department for o in train], k=3)
    covered = sorted(i for fold in chosen.fold_indices for i in fold)
    assert covered == list(range(len(train)))
    assert len(chosen.table) >= 8 and {"accuracy", "top3", "macro_f1", "config"} <= set(chosen.table[0])
    assert chosen.chosen.label() in {row["config"] for row in chosen.table}


def test_macro_f1_selection_is_recorded(demo: list[TrainingOrder]) -> None:
    model = DispatchModel().fit(demo[:200], metric="macro_f1")
    assert model.info.extra["selection"]["metric"] == "macro_f1"
    assert model.info.extra["config_label"] == model.config.label()
    with pytest.raises(ValueError, match="selection metric"):
        DispatchModel().fit(demo[:200], metric="recall")


# District-bound units: the matter is the same everywhere; only the address says which office.
OFFICES = {"湖滨街道": "湖滨街道办", "文昌街道": "文昌街道办", "新华街道": "新华街道办"}
ROADS = {"湖滨街道": ["湖滨路", "望湖路"], "文昌街道": ["文昌路", "学府路"], "新华街道": ["新华路", "和平路"]}
MATTERS = ["路灯不亮", "楼道堆放杂物", "小区绿化带被占", "路边垃圾没人扫", "门口井盖松动"]


def _bound_orders(road_index: int, numbers: range) -> list[TrainingOrder]:
    return [
        TrainingOrder(
            f"{street}-{n}-{m}",
            "",
            f"{matter}，请尽快处理",
            OFFICES[street],
            address=f"{ROADS[street][road_index]}{n}号",
        )
        for street in OFFICES
        for n in numbers
        for m, matter in enumerate(MATTERS)
    ]


def test_address_features_with_a_gazetteer_place_roads_never_seen_in_training() -> None:
    places = Gazetteer.from_mapping(
        {"东湖区": {"湖滨街道": [], "文昌街道": []}, "西城区": {"新华街道": []}}, ROADS
    )
    train, test = _bound_orders(0, range(1, 9)), _bound_orders(1, range(1, 3))  # test: the other road
    model = DispatchModel(gazetteer=places).fit(train)
    assert model.config.features.location
    hits = [
        model.suggest("", o.text, address=o.address).departments[0].department == o.department for o in test
    ]
    assert sum(hits) / len(hits) > 0.9
    blind = DispatchModel().fit(train)  # no gazetteer: 望湖路 says nothing of 湖滨街道
    misses = [
        blind.suggest("", o.text, address=o.address).departments[0].department == o.department for o in test
    ]
    assert sum(misses) / len(misses) < 0.7


def test_address_characters_without_a_gazetteer() -> None:
    train, test = _bound_orders(0, range(1, 9)), _bound_orders(0, range(20, 22))  # same roads, other numbers
    model = DispatchModel().fit(train)
    assert model.gazetteer is None and model.config.features.location
    hits = [
        model.suggest("", o.text, address=o.address).departments[0].department == o.department for o in test
    ]
    assert sum(hits) / len(hits) > 0.9
    phrases = model.suggest("", test[0].text, address=test[0].address).departments[0].key_phrases
    assert any("湖滨" in p for p in phrases)


def test_a_bare_road_address_is_placed_through_the_gazetteer() -> None:
    loc = extract_location("文昌路88号那里的路灯还是不亮", gazetteer())
    assert (loc.district, loc.street, loc.road, loc.address) == ("东湖区", "文昌街道", "文昌路", "文昌路88号")
    assert extract_location("文昌路88号那里的路灯还是不亮").road == ""  # no gazetteer: the address only
    alias = extract_location("高新区云谷路5号停水", gazetteer())
    assert (alias.district, alias.street) == ("示例高新区", "创新街道")


def test_gazetteer_files_and_their_errors(tmp_path: Path) -> None:
    good = tmp_path / "places.json"
    good.write_text(
        json.dumps(
            {
                "districts": {"河西区": {"梅林街道": ["翠湖社区"]}},
                "roads": {"梅林街道": ["长江路"]},
                "aliases": {"河西": "河西区"},
            }
        ),
        encoding="utf-8",
    )
    loc = extract_location("长江路3号漏水", Gazetteer.from_file(good))
    assert (loc.district, loc.street) == ("河西区", "梅林街道")
    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps({"河西区": {"梅林街道": ["翠湖社区"]}}), encoding="utf-8")
    assert Gazetteer.from_file(legacy).communities == {"翠湖社区": "梅林街道"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"districts": ["河西区"]}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json"):
        Gazetteer.from_file(bad)


UNITS = ["市住房和城乡建设局", "市公安局交通警察支队", "示例市民生燃气有限公司", "市城市管理局"]


@pytest.mark.parametrize(
    ("note", "unit"),
    [
        ("请交警部门核实处理", "市公安局交通警察支队"),
        ("请住建局跟进", "市住房和城乡建设局"),
        ("来电人称民生燃气公司一直不上门", "示例市民生燃气有限公司"),
        ("已转城管核实", "市城市管理局"),
    ],
)
def test_short_names_in_notes_name_the_unit(note: str, unit: str) -> None:
    assert UnitNames.build(UNITS).mentioned(note) == {unit}


def test_mentions_are_mined_from_history_and_read_from_the_directory() -> None:
    names = UnitNames.build(UNITS, directory={"市城市管理局": {"城管执法队"}})
    names.mine(["请物业办协调处理"] * 4 + ["路灯坏了"] * 4, ["市住房和城乡建设局"] * 4 + ["市城市管理局"] * 4)
    assert names.mined == {"物业办": "市住房和城乡建设局"}
    assert names.mentioned("城管执法队来过了") == {"市城市管理局"}


def test_notes_mentions_decide_between_look_alike_orders() -> None:
    base = [
        ("路边停了一辆车很久没动", "市公安局交通警察支队", "请交警部门核实处理"),
        ("路边停了一辆车很久没动", "市城市管理局", "请城管跟进"),
    ]
    orders = [
        TrainingOrder(f"{i}-{j}", "", text, unit, notes=note)
        for i in range(12)
        for j, (text, unit, note) in enumerate(base)
    ]
    model = DispatchModel().fit(orders)
    assert model.suggest("", "路边停了一辆车很久没动", notes="请交警部门核实处理").departments[
        0
    ].department == ("市公安局交通警察支队")
    assert (
        model.suggest("", "路边停了一辆车很久没动", notes="请城管跟进").departments[0].department
        == "市城市管理局"
    )


def test_a_rename_map_sends_old_units_to_their_current_name(
    tmp_path: Path, demo: list[TrainingOrder]
) -> None:
    path = tmp_path / "renames.csv"
    path.write_text("old,new\n市园林绿化局,市城市管理局\n", encoding="utf-8")
    renames = read_renames(path)
    model = DispatchModel().fit(demo[:200], renames=renames)
    assert "市园林绿化局" not in model.department.classes and "市城市管理局" in model.department.classes
    (tmp_path / "broken.csv").write_text("old,new\n市园林绿化局\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        read_renames(tmp_path / "broken.csv")


def _write(path: Path, rows: list[tuple[str, str, str]]) -> None:
    lines = ["标题,诉求内容,处置部门"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_rows_without_a_department_are_reported_and_skipped(
    tmp_path: Path, demo: list[TrainingOrder]
) -> None:
    rows = [(o.title, o.text.replace(",", "，"), o.department) for o in demo[:150]]
    rows.insert(3, ("没有部门", "这一行没有处置部门", ""))
    _write(tmp_path / "train.csv", rows)
    _write(tmp_path / "test.csv", [(o.title, o.text.replace(",", "，"), o.department) for o in demo[150:200]])
    loaded = load_orders(
        tmp_path / "train.csv", columns_of(text="诉求内容", department="处置部门", title="标题")
    )
    assert len(loaded.orders) == 150 and [line for line, _ in loaded.skipped] == [5]
    result = CliRunner().invoke(
        app,
        [
            "dispatch",
            "eval",
            "--history",
            str(tmp_path / "train.csv"),
            "--test",
            str(tmp_path / "test.csv"),
            "--json",
            "--address-column",
            "",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["skipped"]["history"]["skipped_lines"] == [5]
    assert report["test_orders"] == 50 and set(report["baseline"]) == {"accuracy", "macro_f1", "top3"}
    assert report["config"] and report["selection"]


def test_suggest_accepts_the_old_pairs_and_documents(demo: list[TrainingOrder]) -> None:
    model = DispatchModel().fit(demo[:200])
    old = model.suggest_many([(demo[0].title, demo[0].text)], duty_reasons=False)[0]
    new = model.suggest_many([OrderText.of(demo[0].title, demo[0].text)], duty_reasons=False)[0]
    assert old.departments[0].department == new.departments[0].department
    assert abs(sum(d.confidence for d in model.suggest("", demo[0].text, top=100).departments) - 1) < 1e-3
