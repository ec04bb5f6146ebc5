"""Enterprise registry and dispatch history: imports that keep good rows and name bad ones."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine

from service.demo_city import ENTERPRISES_CSV
from tests.cities import DEMO_FIELDS
from tools.db import DatabaseSettings, make_engine, migrate
from tools.dispatch import DispatchHistory, HistoryColumns
from tools.enterprises import EnterpriseRegistry

HEADERS = [f.label for f in DEMO_FIELDS.fields]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = make_engine(DatabaseSettings(), tmp_path)
    migrate(eng)
    return eng


def write_enterprises(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADERS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def demo_rows(n: int) -> list[dict[str, str]]:
    with ENTERPRISES_CSV.open(encoding="utf-8-sig", newline="") as fh:
        return [row for _, row in zip(range(n), csv.DictReader(fh), strict=False)]


def test_bad_rows_are_named_and_good_rows_kept(engine: Engine, tmp_path: Path) -> None:
    rows = demo_rows(5)
    rows[1]["统一社会信用代码"] = rows[1]["统一社会信用代码"][:-1] + (
        "0" if rows[1]["统一社会信用代码"][-1] != "0" else "1"
    )
    rows[3]["员工数"] = "很多"
    report = EnterpriseRegistry(engine, DEMO_FIELDS).import_csv(write_enterprises(tmp_path / "e.csv", rows))
    assert report.stored == 3
    assert [line for line, _ in report.errors] == [3, 5]
    assert "统一社会信用代码" in report.errors[0][1]
    assert "员工数" in report.errors[1][1]


def test_reimport_updates_instead_of_duplicating(engine: Engine, tmp_path: Path) -> None:
    rows = demo_rows(3)
    registry = EnterpriseRegistry(engine, DEMO_FIELDS)
    registry.import_csv(write_enterprises(tmp_path / "a.csv", rows))
    rows[0]["员工数"] = "999"
    registry.import_csv(write_enterprises(tmp_path / "b.csv", rows))
    assert registry.count() == 3
    stored = registry.get(rows[0]["统一社会信用代码"])
    assert stored is not None and stored["employees"] == 999


def test_blank_values_are_unknown_not_zero(engine: Engine, tmp_path: Path) -> None:
    rows = demo_rows(1)
    rows[0]["研发费用万元"] = ""
    rows[0]["信用等级"] = ""
    registry = EnterpriseRegistry(engine, DEMO_FIELDS)
    registry.import_csv(write_enterprises(tmp_path / "e.csv", rows))
    stored = registry.get(rows[0]["统一社会信用代码"])
    assert stored is not None and stored["rd_expense_10k"] is None and stored["credit_rating"] is None


def test_missing_columns_are_listed(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("名称,行业门类\n甲公司,制造业\n", encoding="utf-8")
    with pytest.raises(ValueError, match="统一社会信用代码"):
        EnterpriseRegistry(engine, DEMO_FIELDS).import_csv(path)


def test_an_unknown_column_is_named_and_the_file_refused(engine: Engine, tmp_path: Path) -> None:
    rows = demo_rows(2)
    path = tmp_path / "extra.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*HEADERS, "纳税信用等级"])
        writer.writeheader()
        writer.writerows({**r, "纳税信用等级": "A"} for r in rows)
    registry = EnterpriseRegistry(engine, DEMO_FIELDS)
    with pytest.raises(ValueError, match="纳税信用等级"):
        registry.import_csv(path)
    assert registry.count() == 0  # nothing half-imported


def test_a_field_without_a_column_is_missing_never_false(engine: Engine, tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k not in ("欠缴税款", "研发费用万元")} for r in demo_rows(2)]
    path = tmp_path / "fewer.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[h for h in HEADERS if h not in ("欠缴税款", "研发费用万元")])
        writer.writeheader()
        writer.writerows(rows)
    registry = EnterpriseRegistry(engine, DEMO_FIELDS)
    report = registry.import_csv(path)
    assert report.stored == 2 and "欠缴税款" in report.notes[0] and "研发费用万元" in report.notes[0]
    assert "note: no column for" in report.summary()
    stored = registry.get(rows[0]["统一社会信用代码"])
    assert stored is not None and stored["tax_arrears"] is None and stored["rd_expense_10k"] is None


def test_history_from_a_gb18030_export_with_other_column_names(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    text = (
        "编号,内容,承办单位,时间\n"
        "A1,市民张三来电反映路灯不亮，联系电话13812345678,市城市管理局,2024/03/01 08:00\n"
        "A2,,市水务局,2024/03/01 09:00\n"
        "A3,下水道堵塞,,2024/03/01 10:00\n"
        "A4,噪音扰民，身份证号110101199003071234,市公安局,2024/03/01 11:00\n"
    )
    path.write_bytes(text.encode("gb18030"))
    cols = HistoryColumns(text="内容", department="承办单位", order_id="编号", created_at="时间",
                          title=None, address=None, category=None, urgency=None)  # fmt: skip
    history = DispatchHistory(engine)
    report = history.import_csv(path, cols)
    assert report.stored == 2
    assert [line for line, _ in report.errors] == [3, 4]
    assert history.count() == 2
    with engine.connect() as conn:
        texts = [r[0] for r in conn.exec_driver_sql("SELECT text FROM dispatch_history ORDER BY order_id")]
    assert texts[0].endswith("138****5678")
    assert "110101********1234" in texts[1]


def test_history_names_missing_columns(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("标题,内容\n灯,路灯不亮\n", encoding="utf-8")
    with pytest.raises(ValueError, match="诉求内容"):
        DispatchHistory(engine).import_csv(path)
