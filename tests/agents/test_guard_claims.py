"""The answer guard's figure and yes/no checks: each sentence against the clause it cites.

The first cases are the ones residents met (issue 17); each comes with near misses that must pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.resident.claims import contradicts, figures
from agents.resident.guard import verify_answer
from eval.bench.guard import run

ELEVATOR = {
    "title": "老旧小区加装电梯实施办法", "label": "第三条",
    "text": "第三条 加装电梯应当经本单元三分之二以上的业主同意。",
}  # fmt: skip
PARKING = {
    "title": "机动车停车管理办法", "label": "第四条",
    "text": "第四条 停车不满15分钟的，免收停车费。残疾人驾驶的专用车辆在道路停车泊位停放的，免收停车费。",
}  # fmt: skip
FEES = {
    "title": "机动车停车管理办法", "label": "第五条",
    "text": "第五条 道路停车泊位超过15分钟的，按每小时5元收费。",
}  # fmt: skip
SUBSIDY = {
    "title": "灵活就业人员社会保险补贴办法", "label": "第三条",
    "text": "第三条 按上年度社会平均工资的60%作为缴费基数，补贴期限最长不超过3年，年满60周岁以上的不再补贴。",
}  # fmt: skip
ELEVATOR_CITE = "〔老旧小区加装电梯实施办法 第三条〕"
PARKING_CITE = "〔机动车停车管理办法 第四条〕"


def test_a_wrong_fraction_under_a_real_citation_is_withheld() -> None:
    answer = f"需要四分之三以上的业主同意{ELEVATOR_CITE}。"
    checked = verify_answer(answer, [ELEVATOR], "想装电梯需要多少户同意")
    assert "四分之三" not in checked.text
    assert any("四分之三" in r for r in checked.removed)


@pytest.mark.parametrize(
    "answer",
    [
        f"需要三分之二以上的业主同意{ELEVATOR_CITE}。",  # the clause's own figure
        f"要有2/3以上的业主同意才行{ELEVATOR_CITE}。",  # the same fraction, written in digits
        f"本单元三分之二以上业主点头就可以加装{ELEVATOR_CITE}。",  # a paraphrase
    ],
)
def test_the_right_fraction_however_written_is_kept(answer: str) -> None:
    checked = verify_answer(answer, [ELEVATOR], "想装电梯需要多少户同意")
    assert checked.text == answer and checked.cited == [0]


def test_a_yes_the_cited_clause_contradicts_is_withheld_and_the_quote_kept() -> None:
    question = "路边停车位就停了十分钟，也要收费吗？"
    answer = f"是的，路边停车停了十分钟也要收费{PARKING_CITE}。根据第四条，停车不满15分钟的，免收停车费。"
    checked = verify_answer(answer, [PARKING], question)
    assert "也要收费" not in checked.text
    assert "停车不满15分钟的，免收停车费" in checked.text


@pytest.mark.parametrize(
    "answer",
    [
        f"不收费，停车不满15分钟的免收停车费{PARKING_CITE}。",
        f"停十分钟不用交停车费{PARKING_CITE}。",  # a paraphrase on the clause's side
    ],
)
def test_an_answer_on_the_clauses_side_is_kept(answer: str) -> None:
    assert verify_answer(answer, [PARKING], "路边停车位就停了十分钟，也要收费吗？").text == answer


def test_the_part_of_the_clause_a_figure_meets_decides() -> None:
    # twenty minutes meets 超过15分钟 (charged), not 不满15分钟 (free)
    answer = "停了二十分钟要按每小时5元收费〔机动车停车管理办法 第五条〕。"
    checked = verify_answer(answer, [PARKING, FEES], "路边停了二十分钟要收费吗")
    assert checked.text == answer
    assert contradicts("停了二十分钟不收费。", PARKING["text"] + FEES["text"], "停了二十分钟") is not None


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        ("缴费基数按社会平均工资的百分之六十计算。", True),  # 60% written in words
        ("缴费基数按社会平均工资的70%计算。", False),
        ("补贴期限最长不超过三年。", True),  # a Chinese numeral with its unit
        ("补贴期限最长不超过5年。", False),
        ("60周岁以下的不再补贴。", False),  # the figure is there, its bound is the other way
    ],
)
def test_percentages_counts_and_bounds_must_be_in_the_clause(answer: str, kept: bool) -> None:
    cited = answer.replace("。", "〔灵活就业人员社会保险补贴办法 第三条〕。")
    assert (verify_answer(cited, [SUBSIDY]).text == cited) is kept


def test_a_figure_found_in_another_retrieved_clause_moves_the_citation_there() -> None:
    answer = f"超过15分钟按每小时5元收费{PARKING_CITE}。"
    checked = verify_answer(answer, [PARKING, FEES], "停车怎么收费")
    assert checked.text == "超过15分钟按每小时5元收费〔机动车停车管理办法 第五条〕。" and checked.cited == [1]


def test_figures_read_chinese_and_arabic_forms_alike() -> None:
    def read(text: str) -> list[tuple[float, str, str]]:
        return [(f.value, f.unit, f.bound) for f in figures(text)]

    assert read("三分之二以上") == read("2/3以上") == [(round(2 / 3, 6), "", "up")]
    assert read("百分之三十") == read("30%") == [(30.0, "%", "")]
    assert read("十五分钟") == read("15分钟") == [(15.0, "分钟", "")]
    assert read("1.5万元") == [(15000.0, "元", "")]
    assert read("第三条规定一律一起办理，一次性发放") == []  # article numbers and words holding 一


def test_a_long_answer_of_supported_sentences_comes_through_whole() -> None:
    # (its speed is the guard bench's figure, `python -m eval.bench.guard`, not a timed test)
    answer = (f"需要三分之二以上的业主同意{ELEVATOR_CITE}。" * 5 + "\n") * 4
    checked = verify_answer(answer, [ELEVATOR, PARKING, FEES, SUBSIDY], "想装电梯需要多少户同意")
    assert checked.text == answer.strip() and checked.cited == [0] and not checked.removed


def test_an_answer_citing_nothing_gets_the_citation_of_the_clause_holding_its_figure() -> None:
    # the first clause retrieved is the free-parking one; the figure is the fee clause's
    checked = verify_answer("超过15分钟按每小时5元收费。", [PARKING, FEES], "停车怎么收费")
    assert checked.text == "超过15分钟按每小时5元收费〔机动车停车管理办法 第五条〕。" and checked.cited == [1]


def test_an_uncited_sentence_whose_figure_another_clause_holds_is_cited_there_not_dropped() -> None:
    answer = f"停车不满15分钟的免收停车费{PARKING_CITE}。超过的按每小时5元收费。"
    checked = verify_answer(answer, [PARKING, FEES], "停车怎么收费")
    assert "按每小时5元收费〔机动车停车管理办法 第五条〕。" in checked.text and checked.cited == [0, 1]


def test_the_guard_bench_prints_the_guard_without_claims_beside_it(tmp_path: Path) -> None:
    (tmp_path / "01-停车办法.md").write_text(
        "# 停车办法\n\n第四条 停车不满15分钟的，免收停车费。\n\n"
        "第五条 加装电梯应当经三分之二以上的业主同意。\n",
        encoding="utf-8",
    )
    report = run(tmp_path)
    assert report["quotes"] == 2
    assert report["guard"]["quotes_kept"] == 2 and report["guard"]["changed_figures_caught"] == 2
    assert report["baseline_without_claims"]["changed_figures_caught"] < 2
    # each quote cited to the other article goes back to its own with the claims, stays wrong without
    assert report["guard"]["whole_document"]["moved_back"] == 2
    assert report["baseline_without_claims"]["whole_document"]["left_wrong"] == 2


def test_a_yes_that_only_restates_the_question_under_an_unrelated_clause_is_withheld() -> None:
    # the question's own words made it look supported; the parking clause says nothing of buses
    question = "我是残疾人，坐公交地铁是不是免费的？"
    checked = verify_answer(f"是的，残疾人坐公交地铁是免费的{PARKING_CITE}。", [PARKING], question)
    assert "公交" not in checked.text and any("所引条款没有这样写" in r for r in checked.removed)
    # the same yes about what the clause does say is kept
    kept = f"是的，残疾人驾驶的专用车辆在道路停车泊位停放免收停车费{PARKING_CITE}。"
    assert verify_answer(kept, [PARKING], "残疾人停车免费吗").text == kept


def test_a_sentence_another_clause_holds_much_better_is_cited_to_that_clause() -> None:
    # no figure to go by: the words are the parking-exemption clause's, the citation the fee clause's
    answer = "残疾人驾驶的专用车辆在道路停车泊位停放的，免收停车费〔机动车停车管理办法 第五条〕。"
    checked = verify_answer(answer, [PARKING, FEES], "残疾人停车收费吗")
    assert checked.text == answer.replace("第五条", "第四条") and checked.cited == [0]
    # a sentence its own clause holds stays where it is, though another shares some of its words
    own = f"停车不满15分钟的，免收停车费{PARKING_CITE}。"
    assert verify_answer(own, [PARKING, FEES], "停车怎么收费").text == own


def test_a_lists_numbering_and_a_documents_name_are_not_figures() -> None:
    aid = {
        "title": "最低生活保障实施办法", "label": "第七条",
        "text": "第七条 采取虚报、隐瞒、伪造等手段骗取低保金的，由民政部门停止发放，追回已领取的款项。",
    }  # fmt: skip
    answer = "查到后会：\n1. 停止发放：民政部门停止发放低保金。\n2. 追回已领取的款项。"
    checked = verify_answer(answer, [aid], "有人隐瞒收入骗低保，查到了会咋处理")
    assert "1. 停止发放" in checked.text and "2. 追回" in checked.text and not checked.removed
    school = {
        "title": "2025年义务教育阶段招生入学实施办法", "label": "第二条", "text": "第二条 实行免试就近入学。",
    }  # fmt: skip
    quoted = "根据《2025年义务教育阶段招生入学实施办法》第二条，实行免试就近入学。"
    assert verify_answer(quoted, [school], "对口哪所小学").text == quoted
    # a figure of its own inside a list item is still checked
    wrong = verify_answer("查到后会：\n1. 罚款5000元。", [aid], "骗低保会怎样")
    assert "5000" not in wrong.text


def test_of_two_clauses_holding_the_figure_the_one_the_sentence_names_takes_the_citation() -> None:
    tech = {
        "title": "高新技术企业认定奖励办法",
        "label": "第七条",
        "text": "第七条 本办法有效期至2026年12月31日。",
    }
    small = {
        "title": "专精特新中小企业扶持办法",
        "label": "第六条",
        "text": "第六条 本办法有效期至2026年12月31日。",
    }
    checked = verify_answer(
        "专精特新扶持办法有效期到2026年12月31日。", [tech, small], "专精特新的政策到什么时候"
    )
    assert checked.text == "专精特新扶持办法有效期到2026年12月31日〔专精特新中小企业扶持办法 第六条〕。"
