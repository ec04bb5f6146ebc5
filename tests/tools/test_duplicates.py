"""Proposing 一件事 merges: same matter, same place, within the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
