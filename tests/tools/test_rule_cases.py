"""Rule test cases and the policy what-if: every shipped rule's cases pass (so CI runs them), a failing
case says which condition and clause, ``city check`` names a malformed case's line, and a draft run
against the active version counts, totals and explains each enterprise whose decision changes."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from service.demo_city import ENTERPRISES_CSV, PACK_DIR
from tests.cities import DEMO_FIELDS
from tools.citypack import check_pack
from tools.enterprises.dictionary import load_dictionary
from tools.subsidies.cases import CasesFailed, check_cases, run_cases
from tools.subsidies.matcher import Matcher
from tools.subsidies.rules import PolicyRule, load_rule, parse_rule
from tools.subsidies.whatif import simulate

HAIBIN = Path(__file__).resolve().parents[1] / "data" / "citypacks" / "haibin"
SHIPPED = [*sorted((PACK_DIR / "rules").glob("*.yaml")), *sorted((HAIBIN / "rules").glob("*.yaml"))]
AS_OF = date(2025, 3, 1)


def rd_rule(**changes: Any) -> PolicyRule:
    """The demo 研发费用补助 rule with its 200万元 threshold (or other parts) changed."""
    rule = load_rule(PACK_DIR / "rules" / "rd-subsidy.yaml", DEMO_FIELDS)
    data = rule.model_dump(mode="json", by_alias=True, exclude_none=True)
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[int(last) if last.isdigit() else last] = value
    return parse_rule(data, DEMO_FIELDS)


@pytest.fixture(scope="module")
def matcher() -> Iterator[Matcher]:
    with ENTERPRISES_CSV.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    m = Matcher(DEMO_FIELDS)
    m.load_rows(DEMO_FIELDS.parse(r) for r in rows)
    yield m


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_rule_passes_its_own_test_cases(path: Path) -> None:
    dictionary = load_dictionary(path.parents[1] / "enterprise_fields.yaml")
    rule = load_rule(path, dictionary)
    results = check_cases(rule, dictionary)  # CasesFailed (naming the case) otherwise
    assert len(results) >= 3 and all(r.passed for r in results)
    decisions = {r.decision for r in results}
    assert {"eligible", "not_eligible"} <= decisions  # each rule is tested both ways
    assert all(c.clause is not None for c in rule.tests)  # each case cites the clause it is written from


def test_a_failing_case_says_what_it_expected_and_which_condition_and_clause_failed() -> None:
    stricter = rd_rule(conditions__2__value=300)  # the clause says 不低于200万元
    results = run_cases(stricter, DEMO_FIELDS)
    failed = [r for r in results if not r.passed]
    assert [r.name for r in failed] == ["研发费用恰为200万元的补助20万元"]
    message = failed[0].message()
    assert message.startswith(
        "「研发费用恰为200万元的补助20万元」（2025-03-01）期望 符合 200,000 元，实际 不符合："
    )
    assert (
        "上一年度研发费用不低于200万元 不满足（研发费用万元 ≥ 300）〔示例市企业研发费用补助办法 第二条〕"
        in message
    )
    with pytest.raises(CasesFailed, match="1 of 6 test cases fail") as caught:
        check_cases(stricter, DEMO_FIELDS)
    assert len(caught.value.results) == 6


def test_a_wrong_amount_fails_with_both_amounts() -> None:
    lower_cap = rd_rule(benefit__cap=500000)
    (failed,) = [r for r in run_cases(lower_cap, DEMO_FIELDS) if not r.passed]
    assert failed.name == "补助最高不超过100万元" and failed.amount == 500000
    assert "期望 符合 1,000,000 元，实际 符合 500,000 元" in failed.message()


def test_a_case_naming_an_unknown_field_or_an_amount_without_eligibility_is_refused() -> None:
    data = load_rule(PACK_DIR / "rules" / "rd-subsidy.yaml").model_dump(mode="json", by_alias=True)
    data["tests"][0]["facts"]["员工人数"] = 3
    with pytest.raises(ValueError, match="unknown enterprise field '员工人数'"):
        parse_rule(data, DEMO_FIELDS)
    data = load_rule(PACK_DIR / "rules" / "rd-subsidy.yaml").model_dump(mode="json", by_alias=True)
    data["tests"][2]["expect"]["amount"] = 5
    with pytest.raises(ValueError, match="only an eligible case has an amount"):
        parse_rule(data, DEMO_FIELDS)


@pytest.fixture
def haibin(tmp_path: Path) -> Path:
    shutil.copytree(HAIBIN, tmp_path / "pack")
    return tmp_path / "pack"


def test_city_check_names_the_file_and_line_of_a_malformed_or_failing_case(haibin: Path) -> None:
    path = haibin / "rules" / "job-stabilisation.yaml"
    text = path.read_text("utf-8")
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  - name:")) + 1  # 1-based
    facts = next(i for i, line in enumerate(lines) if line.startswith("    facts:")) + 1
    path.write_text(text.replace("上年度减少参保人数: 0", "减员人数: 0", 1), "utf-8")
    _, problems = check_pack(haibin)
    shown = [str(p) for p in problems]
    assert any(
        p.startswith(
            f"rules/job-stabilisation.yaml:{facts}: tests.0.facts: unknown enterprise field '减员人数'"
        )
        for p in shown
    ), shown
    path.write_text(text.replace("amount: 7200", "amount: 7300", 1), "utf-8")
    _, problems = check_pack(haibin)
    (problem,) = problems
    assert problem.file == "rules/job-stabilisation.yaml" and problem.line == first
    assert "test case fails: 「" in problem.message and "7,300 元" in problem.message


def test_a_stricter_draft_lists_the_enterprises_it_drops_with_the_condition_and_clause(
    matcher: Matcher,
) -> None:
    active, draft = rd_rule(), rd_rule(version=2, conditions__2__value=300)
    result = simulate(matcher, draft, active, AS_OF)
    before = {r[0]: r for r in matcher.outcomes(active, AS_OF)}
    rd = {code: r["rd_expense_10k"] for code, r in matcher.records(list(before)).items()}
    dropped = {  # eligible, or missing another field, until 300万元 is asked for
        code for code, row in before.items()
        if row[2] in ("eligible", "missing_data") and rd[code] is not None and 200 <= rd[code] < 300
    }  # fmt: skip
    assert dropped and result.changed_total == len(dropped) == len(result.changed)
    assert {c.credit_code for c in result.changed} == dropped
    was_eligible = sum(1 for code in dropped if before[code][2] == "eligible")
    assert result.before.counts["eligible"] - result.after.counts["eligible"] == was_eligible
    assert result.enterprises == matcher.size() == sum(result.after.counts.values())
    lost = sum(c.amount_before or 0 for c in result.changed)
    assert result.before.total - result.after.total == pytest.approx(lost)
    change = next(c for c in result.changed if c.decision_before == "eligible")
    assert (change.decision_before, change.decision_after, change.amount_after) == (
        "eligible", "not_eligible", None,
    )  # fmt: skip
    (reason,) = change.reasons
    assert (reason.id, reason.before, reason.after) == ("rd_at_least_2m", "pass", "fail")
    assert (reason.expected_before, reason.expected_after) == ("研发费用万元 ≥ 200", "研发费用万元 ≥ 300")
    assert reason.citation == "〔示例市企业研发费用补助办法 第二条〕" and "200万元" in reason.quote
    assert 200 <= reason.values["研发费用万元"] < 300


def test_an_amount_only_change_is_explained_by_the_benefit_clause(matcher: Matcher) -> None:
    result = simulate(matcher, rd_rule(benefit__cap=200000), rd_rule(), AS_OF)
    assert result.changed and all(
        c.decision_before == c.decision_after == "eligible" and (c.amount_after or 0) == 200000
        for c in result.changed
    )
    (reason,) = result.changed[0].reasons
    assert reason.kind == "benefit" and reason.citation == "〔示例市企业研发费用补助办法 第三条〕"
    assert result.after.counts == result.before.counts and result.after.total < result.before.total


def test_without_an_active_version_the_baseline_is_nothing_eligible(matcher: Matcher) -> None:
    result = simulate(matcher, rd_rule(), None, AS_OF, limit=3)
    assert result.before.version is None and result.before.total == 0
    assert result.before.counts == {"not_eligible": matcher.size()}
    moved = result.after.counts.get("eligible", 0) + result.after.counts.get("missing_data", 0)
    assert result.changed_total == moved and len(result.changed) == 3 and result.as_dict()["truncated"]
    assert all(r.before is None and r.after for r in result.changed[0].reasons)


def test_the_same_version_changes_nothing(matcher: Matcher) -> None:
    result = simulate(matcher, rd_rule(), rd_rule(), AS_OF)
    assert result.changed_total == 0 and result.before.counts == result.after.counts
