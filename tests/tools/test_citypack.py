"""City pack files: each problem with its file and line, hostile names refused, the rules the store uses."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.demo_city import PACK_DIR
from tools.citypack import check_pack, city_of, read_pack
from tools.citypack.errors import CityPackError
from tools.work_orders.deadlines import close_due, dispatch_due
from tools.work_orders.lifecycle import Urgency

HAIBIN = Path(__file__).resolve().parents[1] / "data" / "citypacks" / "haibin"


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    shutil.copytree(HAIBIN, tmp_path / "pack")
    return tmp_path / "pack"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")


def problems_of(root: Path) -> list[str]:
    found, problems = check_pack(root)
    assert found is None
    return [str(p) for p in problems]


def test_both_shipped_packs_pass() -> None:
    for root in (PACK_DIR, HAIBIN):
        found, problems = check_pack(root)
        assert problems == [] and found is not None


def test_yaml_errors_unknown_keys_and_clashes_name_their_line(pack: Path) -> None:
    edit(pack / "city.yaml", "ticket_prefix: HB", "ticket_prefix: hb\nmayor: 某某")
    edit(pack / "gazetteer.yaml", "communities: [渔湾社区, 礁石村]", "communities: [灯塔社区, 礁石村]")
    (pack / "orders.yaml").write_text("file: orders.csv\ncolumns: [事项描述\n", "utf-8")
    found = problems_of(pack)
    assert "city.yaml:6: ticket_prefix: String should match pattern '^[A-Z]{1,6}$'" in found
    assert "city.yaml:7: mayor: Extra inputs are not permitted" in found
    assert any(p.startswith("gazetteer.yaml:1: named twice: 灯塔社区") for p in found)
    assert any(p.startswith("orders.yaml:3: not valid YAML") for p in found)


def test_names_that_would_break_a_prompt_or_a_page_are_refused(pack: Path) -> None:
    edit(pack / "city.yaml", "assistant: 海滨市民服务助手", 'assistant: "助手{city}<script>"')
    found = problems_of(pack)
    assert any(p.startswith("city.yaml:3: assistant:") and "braces" in p for p in found)


def test_a_missing_urgency_level_and_a_bad_duty_list_are_named(pack: Path) -> None:
    edit(pack / "hotline.yaml", "  一般: {dispatch: 4小时, close: 2个工作日}\n", "")
    duties = pack / "documents" / "03-海滨市96123热线承办单位职责目录.md"
    duties.write_text("# 目录\n\n第一条 本目录是派单依据。\n", "utf-8")
    found = problems_of(pack)
    assert "hotline.yaml:2: urgency: the urgency levels are 一般、紧急、特急; missing: 一般" in found
    assert any(p.startswith("documents/03-海滨市96123热线承办单位职责目录.md: ") for p in found)
    with pytest.raises(CityPackError, match="problem"):
        read_pack(pack)


def test_hotline_rules_become_the_stores_deadlines() -> None:
    rules = city_of(read_pack(HAIBIN)).rules
    saturday = datetime(2026, 9, 26, 2, 0, tzinfo=UTC)  # 10:00 in 海滨市, a working Saturday
    assert dispatch_due(saturday, Urgency.CRITICAL, rules=rules) == saturday + timedelta(minutes=15)
    assert close_due(saturday, Urgency.NORMAL, rules=rules) == datetime(2026, 9, 29, 2, 0, tzinfo=UTC)
    assert rules.duplicate_window == timedelta(days=3)
    demo = city_of(read_pack(PACK_DIR)).rules
    assert close_due(saturday, Urgency.NORMAL, rules=demo) == datetime(2026, 10, 2, 2, 0, tzinfo=UTC)
