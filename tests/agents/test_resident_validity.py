"""Validity notes: a cited document that expired, is not yet in force, or is in force until a date says so."""

from __future__ import annotations

from datetime import date

from agents.resident import prompts
from agents.resident.nodes import validity_notes

TODAY = date(2026, 12, 3)


def clause(title: str, effective: str = "", expiry: str = "") -> dict[str, str]:
    return {"title": title, "label": "第一条", "effective_date": effective, "expiry_date": expiry}


def test_an_expired_document_is_said_to_be_expired_with_its_end_date() -> None:
    (note,) = validity_notes([clause("稳岗返还实施细则", "2023-01-01", "2025-12-31")], TODAY, "12345热线")
    assert "现已失效" in note and "2025年12月31日" in note and "12345热线" in note


def test_a_document_in_force_until_a_date_gives_the_date_once_per_document() -> None:
    cited = [
        clause("奖励办法", expiry="2026-12-31"),
        {**clause("奖励办法", expiry="2026-12-31"), "label": "第二条"},
    ]
    assert validity_notes(cited, TODAY, "h") == [
        prompts.IN_FORCE_NOTE.format(title="奖励办法", end="2026年12月31日")
    ]


def test_a_document_not_yet_in_force_and_one_without_dates() -> None:
    notes = validity_notes([clause("新办法", effective="2027-01-01"), clause("老办法")], TODAY, "h")
    assert notes == [prompts.NOT_YET_NOTE.format(title="新办法", start="2027年1月1日")]


def test_the_last_day_is_still_in_force_and_bad_dates_are_ignored() -> None:
    assert "现已失效" not in validity_notes([clause("办法", expiry="2026-12-03")], TODAY, "h")[0]
    assert validity_notes([clause("办法", expiry="not a date")], TODAY, "h") == []
