"""The evaluation's own figure reader: key facts present, no figure the cited clauses do not hold."""

from __future__ import annotations

import pytest

from eval.metrics.facts import chinese_number, figures, key_fact_recall, unsupported_figures


@pytest.mark.parametrize(
    ("text", "value"),
    [("三千", 3000), ("十五", 15), ("一万二千", 12000), ("二十", 20), ("1.5", 1.5), ("两", 2), ("律", None)],
)
def test_chinese_numbers(text: str, value: float | None) -> None:
    assert chinese_number(text) == value


def test_figures_compare_values_not_spellings() -> None:
    assert figures("需经三分之二以上业主同意") == figures("需要2/3以上的业主同意") == {round(2 / 3, 4)}
    assert figures("按市场租金的百分之三十") == figures("按市场租金的30%") == {0.3}
    assert figures("十五日内办结") == figures("15日内办结")
    assert figures("一律免费，一般情况下") == set()  # words, not figures
    assert 12000.0 in figures("每次不超过12,000元")


def test_key_fact_recall_counts_each_fact_once() -> None:
    facts = ["1500元", "3000元"]
    assert key_fact_recall("每月最多提取1500元", facts) == 0.5
    assert key_fact_recall("每月最多1500元，多子女家庭三千元", facts) == 1.0
    assert key_fact_recall("", []) == 1.0
    assert key_fact_recall("需要居住证和租房合同", ["居住证"]) == 1.0  # a fact in words


def test_a_wrong_fraction_under_a_real_citation_is_unsupported() -> None:
    clause = "第三条 加装电梯应当经本单元房屋专有部分面积占比三分之二以上的业主同意。"
    assert unsupported_figures("需要四分之三以上的业主同意〔加装电梯办法 第三条〕", [clause]) == {0.75}
    assert unsupported_figures("需要三分之二以上的业主同意〔加装电梯办法 第三条〕", [clause]) == set()


def test_figures_from_the_question_and_the_article_number_are_not_facts_of_the_answer() -> None:
    clause = "第六条 停车不满15分钟的，免收停车费。"
    answer = "停了十分钟不收费〔停车管理办法 第六条〕，不满15分钟免收。"
    assert unsupported_figures(answer, [clause], "就停了十分钟也要收费吗") == set()
    assert unsupported_figures("按第十二条办理，每次20元", [clause]) == {20.0}
