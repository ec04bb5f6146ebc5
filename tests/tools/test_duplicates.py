"""Proposing 一件事 merges: same matter, same place, within the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eval.bench.duplicates import run_duplicates_bench
from service.demo_city.geography import gazetteer
from tools.dispatch.duplicates import RecentOrder, find_duplicates

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def recent(ticket: str, text: str, hours_ago: float) -> RecentOrder:
    return RecentOrder(ticket, text, NOW - timedelta(hours=hours_ago))


def test_same_matter_same_place_is_proposed() -> None:
    found = find_duplicates(
        "建设路98号下水道又堵了，污水漫到路面，臭气熏天",
        NOW,
        [
            recent("A", "建设路98号下水道堵塞，污水漫到路面", 20),
            recent("B", "建设路98号路灯不亮", 5),  # same place, another matter
            recent("C", "幸福路12号下水道堵塞，污水漫到路面", 5),  # same matter, another place
            recent("D", "建设路98号下水道堵塞，污水漫到路面", 24 * 9),  # outside the 7-day window
        ],
    )
    assert [c.ticket for c in found] == ["A"]
    assert found[0].place == "建设路98号" and found[0].hours_apart == 20.0


def test_community_counts_as_the_place_when_there_is_no_address() -> None:
    found = find_duplicates(
        "学府社区有几条流浪狗晚上乱叫，还追小孩", NOW, [recent("E", "学府社区流浪狗乱叫追小孩", 30)]
    )
    assert [c.ticket for c in found] == ["E"] and found[0].place == "学府社区"


def test_no_place_no_proposal() -> None:
    assert find_duplicates("下水道堵了", NOW, [recent("F", "下水道堵了", 1)]) == []


def test_the_same_report_in_other_words_minutes_later_is_proposed() -> None:
    first = RecentOrder("G", "东湖区文昌路88号门口的路灯坏了", NOW - timedelta(minutes=1.5))
    found = find_duplicates("文昌路88号那里的路灯还是不亮", NOW, [first], gazetteer=gazetteer())
    assert [c.ticket for c in found] == ["G"] and found[0].place == "文昌路88号"


@pytest.mark.parametrize(
    ("text", "address", "expected"),
    [
        ("文昌路八十八号附近路灯黑了", "", True),  # numerals in Chinese, other words
        ("路灯不亮", "文昌路88号", True),  # the place in the address column only
        ("文昌路90号门口的路灯坏了", "", False),  # same road, other number
        ("文昌路88号门口的路灯杆被车撞歪了", "", False),  # same place, another matter of the same lamp
        ("文昌路88号门口井盖丢了", "", False),  # same place, other matter
    ],
)
def test_place_and_matter_near_misses(text: str, address: str, expected: bool) -> None:
    first = RecentOrder("H", "东湖区文昌路88号门口的路灯坏了", NOW - timedelta(hours=2))
    assert bool(find_duplicates(text, NOW, [first], address=address)) is expected


def test_the_bench_scores_proposals_beside_the_plain_check() -> None:
    dev = Path(__file__).parents[2] / "eval" / "bench" / "data" / "duplicates_dev.jsonl"
    result = run_duplicates_bench(dev, None)
    assert result["pairs"] == 55 and result["duplicates"] == 32
    assert result["proposals"]["recall"] > result["baseline_plain_overlap"]["recall"]
