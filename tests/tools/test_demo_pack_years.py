"""The demo pack's enterprise data describe one year (``data_year``); loaded later, they move on with it.

Without that, every 上一年度 condition of the demo rules fails from the next year on (on 2026-12-02 two of the
four demo policies found 0 of 2,400 enterprises eligible).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from service.demo_city import DEMO_DICTIONARY, ENTERPRISES_CSV, PACK_DIR, RULES_DIR
from tools.citypack import read_pack
from tools.db import DatabaseSettings, make_engine, migrate
from tools.enterprises import EnterpriseRegistry
from tools.enterprises.dictionary import load_dictionary
from tools.subsidies.matcher import Matcher
from tools.subsidies.rules import load_rule

DICTIONARY = load_dictionary(DEMO_DICTIONARY)


def _eligible(tmp_path: Path, rule_file: str, as_of: date, years_forward: int) -> int:
    engine = make_engine(DatabaseSettings(), tmp_path)
    migrate(engine)
    try:
        registry = EnterpriseRegistry(engine, DICTIONARY)
        report = registry.import_file(ENTERPRISES_CSV, years_forward=years_forward)
        assert report.stored == 2400 and not report.errors
        matcher = Matcher(DICTIONARY)
        matcher.load_rows(registry.all_rows())
        return matcher.counts(load_rule(RULES_DIR / rule_file, DICTIONARY), as_of).get("eligible", 0)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("rule_file", "as_of"),
    [
        ("hightech-award.yaml", date(2026, 12, 2)),  # in force until 2026-12-31 (its 第七条)
        ("above-scale-award.yaml", date(2026, 12, 2)),
        ("above-scale-award.yaml", date(2031, 6, 1)),  # no end date: holds in any later year
    ],
)
def test_last_years_conditions_hold_in_the_year_the_demo_is_loaded(
    tmp_path: Path, rule_file: str, as_of: date
) -> None:
    data_year = read_pack(PACK_DIR).city.data_year
    assert data_year == 2025
    assert _eligible(tmp_path / "stale", rule_file, as_of, 0) == 0  # the data as written: stale
    assert _eligible(tmp_path / "moved", rule_file, as_of, as_of.year - data_year) > 0


def test_years_and_dates_move_and_nothing_else(tmp_path: Path) -> None:
    engine = make_engine(DatabaseSettings(), tmp_path)
    migrate(engine)
    try:
        registry = EnterpriseRegistry(engine, DICTIONARY)
        registry.import_file(ENTERPRISES_CSV)
        before = {r["credit_code"]: r for r in registry.all_rows()}
        report = registry.import_file(ENTERPRISES_CSV, years_forward=2)
        after = {r["credit_code"]: r for r in registry.all_rows()}
    finally:
        engine.dispose()
    assert any("2 year(s) forward" in n for n in report.notes)
    kinds = {f.name: f.type for f in DICTIONARY.fields}
    for code, old in before.items():
        new = after[code]
        for name, value in old.items():
            if value is None or kinds.get(name) not in ("year", "date"):
                assert new[name] == value, name
            elif kinds[name] == "year":
                assert new[name] == value + 2
            else:
                assert (new[name].year, new[name].month) == (value.year + 2, value.month)
