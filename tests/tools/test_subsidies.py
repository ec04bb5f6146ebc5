"""The 免申即享 rule language and the DuckDB matcher: operators at their boundaries, three-valued
decisions, exclusions, tiers and caps, explanations naming the clause, rules that cannot be used."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from eval.bench.fakes import ScriptedLLM
from service.demo_city import ENTERPRISES_CSV
from tests.cities import DEMO_FIELDS
from tools.subsidies.draft import agreement, draft_rule
from tools.subsidies.matcher import Matcher
from tools.subsidies.rules import PolicyRule, RuleError, load_rule, load_rules

RULES = Path(__file__).resolve().parents[2] / "service" / "demo_city" / "pack" / "rules"
AS_OF = date(2025, 3, 1)
CLAUSE = {"article": "第二条", "quote": "测试条款"}


def enterprise(code: str, **changes: Any) -> dict[str, Any]:
    base = {
        "统一社会信用代码": code,
        "名称": f"企业{code[-4:]}",
        "行业门类": "制造业",
        "行业代码": "C39",
        "规模": "小型",
        "注册区": "东湖区",
        "成立日期": "2020-01-01",
        "员工数": 30,
        "参保人数": 25,
        "营业收入万元": 5000,
        "纳税额万元": 100,
        "研发费用万元": 300,
        "高新技术企业": "是",
        "高企认定年度": 2024,
        "高企认定类型": "首次",
        "专精特新等级": "",
        "专精特新认定年度": "",
        "规上工业企业": "否",
        "首次规上年度": "",
        "限上商贸企业": "否",
        "首次限上年度": "",
        "出口额万美元": 0,
        "上年裁员人数": 0,
        "上年失业保险缴费万元": 2.0,
        "上年新招高校毕业生人数": 0,
        "绿色工厂等级": "",
        "绿色工厂认定年度": "",
        "信用等级": "A",
        "严重失信": "否",
        "欠缴税款": "否",
        "拖欠工资": "否",
        "重大安全事故": "否",
    }
    return DEMO_FIELDS.parse({**base, **changes})


# valid GB 32100 codes (check characters computed with tools.enterprises.credit_code.check_char)
CODES = ["91990102MA1DE7X01Q", "91990102MA1DE7X02U", "91990102MA1DE7X03Y", "91990102MA1DE7X042"]


def rule(
    conditions: list[dict[str, Any]], exclusions: list[dict[str, Any]] | None = None, **benefit: Any
) -> PolicyRule:
    return PolicyRule.model_validate(
        {
            "id": "test-policy",
            "version": 1,
            "document": "测试办法",
            "mode": "apply_free",
            "valid_from": "2024-01-01",
            "conditions": [
                {"id": f"c{i}", "label": f"条件{i}", "clause": CLAUSE, **c} for i, c in enumerate(conditions)
            ],
            "exclusions": [
                {"id": f"x{i}", "label": f"排除{i}", "clause": CLAUSE, **c}
                for i, c in enumerate(exclusions or [])
            ],
            "benefit": {"clause": CLAUSE, **(benefit or {"tiers": [{"amount": 1000}]})},
        }
    )


def decide(r: PolicyRule, *records: dict[str, Any]) -> dict[str, str]:
    m = Matcher(DEMO_FIELDS)
    m.load_rows(records)
    return {
        d.credit_code: d.decision
        for code in [x["credit_code"] for x in records]
        for d in m.explain(code, [r], AS_OF)
    }


@pytest.mark.parametrize(
    ("op", "value", "passes"),
    [
        ("ge", 300, True),
        ("ge", 300.01, False),
        ("gt", 300, False),
        ("le", 300, True),
        ("lt", 300, False),
        ("eq", 300, True),
        ("ne", 300, False),
        ("between", [300, 400], True),
        ("between", [300.5, 400], False),
    ],
)
def test_comparisons_at_their_boundaries(op: str, value: Any, passes: bool) -> None:
    r = rule([{"field": "rd_expense_10k", "op": op, "value": value}])
    assert decide(r, enterprise(CODES[0]))[CODES[0]] == ("eligible" if passes else "not_eligible")


def test_years_since_founding_and_ratios_at_their_boundaries() -> None:
    two_years = rule([{"field": "founded", "op": "years_since_ge", "value": 2}])
    assert decide(
        two_years, enterprise(CODES[0], 成立日期="2023-03-01"), enterprise(CODES[1], 成立日期="2023-03-02")
    ) == {CODES[0]: "eligible", CODES[1]: "not_eligible"}
    share = rule([{"field": "rd_expense_10k", "op": "ratio_ge", "of": "revenue_10k", "value": 0.03}])
    assert decide(
        share, enterprise(CODES[0], 研发费用万元=150), enterprise(CODES[1], 研发费用万元=149.9)
    ) == {CODES[0]: "eligible", CODES[1]: "not_eligible"}


def test_sets_booleans_and_groups() -> None:
    r = rule(
        [
            {"field": "district", "op": "in", "value": ["东湖区", "西城区"]},
            {
                "any": [
                    {"field": "high_tech", "op": "is_true"},
                    {"field": "scale", "op": "eq", "value": "中型"},
                ]
            },
            {"not": {"field": "industry_sector", "op": "eq", "value": "建筑业"}},
        ]
    )
    assert decide(
        r,
        enterprise(CODES[0]),
        enterprise(CODES[1], 注册区="南山区"),
        enterprise(CODES[2], 高新技术企业="否", 规模="中型"),
    ) == {CODES[0]: "eligible", CODES[1]: "not_eligible", CODES[2]: "eligible"}


def test_missing_values_give_missing_data_naming_the_fields_unless_something_already_fails() -> None:
    r = rule(
        [
            {"field": "rd_expense_10k", "op": "ge", "value": 200},
            {"field": "credit_rating", "op": "in", "value": ["A", "B"]},
        ]
    )
    m = Matcher(DEMO_FIELDS)
    m.load_rows([enterprise(CODES[0], 研发费用万元=""), enterprise(CODES[1], 研发费用万元="", 信用等级="C")])
    (unknown,) = m.explain(CODES[0], [r], AS_OF)
    assert unknown.decision == "missing_data" and unknown.missing_fields == ["研发费用万元"]
    (failed,) = m.explain(CODES[1], [r], AS_OF)
    assert failed.decision == "not_eligible"  # C fails whatever the missing value is


def test_exclusions_rule_out_and_an_unknown_exclusion_is_missing_data() -> None:
    r = rule([{"field": "high_tech", "op": "is_true"}], [{"field": "dishonest", "op": "is_true"}])
    assert decide(r, enterprise(CODES[0], 严重失信="是"), enterprise(CODES[1], 严重失信="")) == {
        CODES[0]: "not_eligible",
        CODES[1]: "missing_data",
    }


def test_tiers_rates_and_caps() -> None:
    r = rule(
        [{"field": "high_tech", "op": "is_true"}],
        tiers=[
            {"when": {"field": "scale", "op": "eq", "value": "大型"}, "amount": 5},
            {"rate": 0.1, "of": "rd_expense_10k"},
        ],
        cap=250000,
    )
    m = Matcher(DEMO_FIELDS)
    m.load_rows(
        [
            enterprise(CODES[0], 研发费用万元=200),
            enterprise(CODES[1], 研发费用万元=300),
            enterprise(CODES[2], 规模="大型"),
        ]
    )
    amounts = {c: a for c, _, a in m.push_list(r, AS_OF)}
    assert amounts == {CODES[0]: 200000.0, CODES[1]: 250000.0, CODES[2]: 5.0}


def test_an_amount_per_head_and_a_rate_in_the_fields_own_unit() -> None:
    per_head = rule(
        [{"field": "high_tech", "op": "is_true"}],
        tiers=[{"amount": 1500, "per": "graduates_hired_last_year"}],
        cap=6000,
    )
    m = Matcher(DEMO_FIELDS)
    m.load_rows(
        [enterprise(CODES[0], 上年新招高校毕业生人数=3), enterprise(CODES[1], 上年新招高校毕业生人数=9)]
    )
    assert {c: a for c, _, a in m.push_list(per_head, AS_OF)} == {CODES[0]: 4500.0, CODES[1]: 6000.0}
    # the unit comes from the dictionary (万元), not from how the field happens to be spelt
    refund = rule(
        [{"field": "high_tech", "op": "is_true"}], tiers=[{"rate": 0.6, "of": "unemployment_premium_10k"}]
    )
    assert {c: a for c, _, a in m.push_list(refund, AS_OF)} == {CODES[0]: 12000.0, CODES[1]: 12000.0}


def test_a_rate_of_a_foreign_currency_field_is_refused() -> None:
    r = rule([{"field": "high_tech", "op": "is_true"}], tiers=[{"rate": 0.01, "of": "export_10k_usd"}])
    m = Matcher(DEMO_FIELDS)
    m.load_rows([enterprise(CODES[0])])
    with pytest.raises(RuleError, match="万美元"):
        m.push_list(r, AS_OF)


def test_per_is_for_amounts_and_names_a_number() -> None:
    with pytest.raises(ValueError, match="'per' is only for an amount"):
        rule(
            [{"field": "high_tech", "op": "is_true"}],
            tiers=[{"rate": 0.1, "of": "rd_expense_10k", "per": "employees"}],
        )
    with pytest.raises(ValueError, match="numeric field"):
        PolicyRule.model_validate(
            {
                **rule([{"field": "high_tech", "op": "is_true"}]).model_dump(
                    by_alias=True, exclude_none=True
                ),
                "benefit": {"clause": CLAUSE, "tiers": [{"amount": 10, "per": "industry_sector"}]},
            },
            context={"dictionary": DEMO_FIELDS},
        )


def test_explanations_name_values_expectations_and_clauses() -> None:
    rules = load_rules(RULES, DEMO_FIELDS)
    m = Matcher(DEMO_FIELDS)
    m.load_rows([enterprise(CODES[0], 研发费用万元=120)])
    by_policy = {d.policy: d for d in m.explain(CODES[0], rules, AS_OF)}
    rd = by_policy["rd-subsidy"]
    failing = next(c for c in rd.conditions if c.outcome == "fail")
    assert failing.id == "rd_at_least_2m" and failing.values == {"研发费用万元": 120.0}
    assert (
        failing.expected == "研发费用万元 ≥ 200"
        and failing.citation == "〔示例市企业研发费用补助办法 第二条〕"
    )
    assert failing.quote in (RULES.parent / "documents" / "27-企业研发费用补助办法.md").read_text(
        encoding="utf-8"
    )
    award = by_policy["hightech-award"]
    assert award.decision == "eligible" and award.amount == 200000.0


def test_every_demo_quote_is_in_its_document() -> None:
    documents = {
        p.read_text(encoding="utf-8").splitlines()[0].lstrip("# "): p
        for p in (RULES.parent / "documents").glob("*.md")
    }
    for r in load_rules(RULES, DEMO_FIELDS):
        text = documents[r.document].read_text(encoding="utf-8")
        for c in [*r.conditions, *r.exclusions]:
            assert c.clause is not None and c.clause.quote in text, (r.id, c.id)
        assert r.benefit.clause.quote in text


def test_a_rule_naming_an_unknown_field_is_refused_with_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: bad\nversion: 1\ndocument: 测试\nmode: apply\nvalid_from: 2024-01-01\n"
        "conditions:\n  - {id: a, label: 员工, field: staff_count, op: ge, value: 10,\n"
        "     clause: {article: 第二条, quote: 员工}}\n"
        "benefit: {tiers: [{amount: 1}], clause: {article: 第三条, quote: 奖励}}\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleError, match="unknown enterprise field 'staff_count'"):
        load_rule(bad, DEMO_FIELDS)


def test_the_demo_city_push_lists(tmp_path: Path) -> None:
    m = Matcher(DEMO_FIELDS)
    with ENTERPRISES_CSV.open(encoding="utf-8-sig") as f:
        m.load_rows(DEMO_FIELDS.parse(row) for row in csv.DictReader(f))
    rules = {r.id: r for r in load_rules(RULES, DEMO_FIELDS)}
    counts = m.counts(rules["hightech-award"], AS_OF)
    assert sum(counts.values()) == 2400 and counts["eligible"] > 0
    out = tmp_path / "push.csv"
    rows = m.export_push_list(rules["hightech-award"], AS_OF, out)
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert rows == counts["eligible"] and lines[0].startswith("统一社会信用代码,名称,政策")
    assert "〔示例市高新技术企业认定奖励办法 第四条〕" in lines[1]


async def test_a_drafted_rule_is_a_draft_with_its_invented_quotes_flagged() -> None:
    written = load_rule(RULES / "hightech-award.yaml", DEMO_FIELDS)
    document = (RULES.parent / "documents" / "24-高新技术企业认定奖励办法.md").read_text(encoding="utf-8")

    def leaf(
        label: str, field: str, op: str, value: Any = None, *, exclusion: bool = False, quote: str
    ) -> dict[str, Any]:
        return {"label": label, "field": field, "op": op, "value": value, "exclusion": exclusion,
                "article": "第三条", "quote": quote}  # fmt: skip

    districts = ["东湖区", "西城区", "南山区", "北岭区", "示例高新区"]
    first = "于上一年度首次通过高新技术企业认定"
    answer = {
        "mode": "apply_free",
        "conditions": [
            leaf("在本市注册", "district", "in", districts, quote="在本市注册满三年"),
            leaf("高企", "high_tech", "is_true", quote=first),
            leaf("上一年度认定", "high_tech_year", "eq", {"year_offset": -1}, quote=first),
            leaf("失信", "dishonest", "is_true", exclusion=True, quote="未被列入严重失信主体名单"),
            leaf("欠税", "tax_arrears", "is_true", exclusion=True, quote="无欠缴税款"),
        ],
        "amount": 200000, "benefit_article": "第四条",
        "benefit_quote": "首次认定的高新技术企业，给予一次性奖励20万元",
    }  # fmt: skip
    llm = ScriptedLLM([answer])  # the model answers the drafting request with the rule, as JSON
    draft = await draft_rule(llm, document, DEMO_FIELDS, rule_id="hightech-award")
    assert draft.rule is not None and draft.rule.status == "draft" and draft.rule.document == written.document
    assert draft.flagged_quotes == ["c0: 在本市注册满三年"]
    assert agreement(draft.rule, written) == {"written": 6, "drafted": 5, "correct": 5, "extra": 0}
    nothing = await draft_rule(ScriptedLLM(["{", "{"]), document, DEMO_FIELDS)  # invalid JSON twice
    assert nothing.rule is None and nothing.error.startswith("the model did not produce a valid DraftRule")
    assert nothing.raw == ("{",)
