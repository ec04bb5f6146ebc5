"""Judge-free metrics on hand-made cases whose answers are known."""

from __future__ import annotations

import pytest

from eval.metrics.answers import citation_hit, is_refusal, score_refusals
from eval.metrics.intervals import bootstrap_mean, paired_difference
from eval.metrics.text import bleu, chrf, rouge_l, words

REF = "租房提取住房公积金，每月不超过1500元。"


def test_identical_chinese_scores_one() -> None:
    assert bleu(REF, REF) == pytest.approx(1.0)
    assert chrf(REF, REF) == pytest.approx(1.0)
    assert rouge_l(REF, REF) == pytest.approx(1.0)


def test_a_wrong_chinese_answer_scores_low_unlike_ascii_only_rouge() -> None:
    wrong = "生活垃圾分为四类，请分类投放。"
    assert rouge_l(wrong, REF) < 0.2  # ragas' RougeScore gave 1.0 here: it drops non-ASCII text
    assert bleu(wrong, REF) < 0.2
    assert chrf(wrong, REF) < 0.3


def test_rouge_l_by_hand() -> None:
    # words: 租房 / 提取 / 公积金  vs  租房 / 可以 / 提取 / 公积金 / 吗  -> LCS 3; P = 3/3, R = 3/5
    assert words("租房提取公积金") == ["租房", "提取", "公积金"]
    assert rouge_l("租房提取公积金", "租房可以提取公积金吗") == pytest.approx(2 * 1 * 0.6 / 1.6)
    assert rouge_l("", REF) == 0.0


def test_partial_answers_rank_between() -> None:
    partial = "租房可以提取住房公积金。"
    assert 0 < rouge_l(partial, REF) < 1 and 0 < bleu(partial, REF) < 1


def test_citations_match_title_and_article_regardless_of_version() -> None:
    gold = [("示例市城市绿化管理办法", "第三条")]
    assert citation_hit([("示例市城市绿化管理办法（2025年修订）", "第三条")], gold)
    assert not citation_hit([("示例市城市绿化管理办法", "第四条")], gold)
    assert not citation_hit([], gold)


def test_refusals_count_both_kinds_of_mistake() -> None:
    scores = score_refusals(
        [
            (False, "文件中没有相关规定，请拨打12345咨询。"),  # right refusal
            (False, "办理费用为200元。"),  # invented answer
            (True, "每月不超过1500元〔示例市住房公积金提取管理办法 第四条〕"),  # right answer
            (True, "未找到相关规定。"),  # false refusal
        ]
    )
    assert (scores.correct_refusals, scores.invented_answers, scores.false_refusals) == (1, 1, 1)
    assert scores.refusal_accuracy == pytest.approx(2 / 4)
    assert is_refusal("这个问题文件不涵盖") and not is_refusal("可以办理")


def test_bootstrap_interval_contains_the_mean_and_narrows_with_data() -> None:
    small = bootstrap_mean([1, 0] * 10)
    large = bootstrap_mean([1, 0] * 500)
    assert small.low < 0.5 < small.high and large.low < 0.5 < large.high
    assert (large.high - large.low) < (small.high - small.low)
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_mean([1.0, float("nan")])


def test_paired_difference_sees_a_real_change_and_not_noise() -> None:
    a = [0.0] * 60 + [1.0] * 40
    better = a[:]
    for i in range(20):
        better[i] = 1.0  # 20 more items right
    real = paired_difference(a, better)
    assert real.mean == pytest.approx(0.2) and real.low > 0 and real.p_value < 0.01
    same = paired_difference(a, a)
    assert same.mean == 0 and same.p_value == 1.0
    with pytest.raises(ValueError, match="same"):
        paired_difference([1.0], [1.0, 0.0])
