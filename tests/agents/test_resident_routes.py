"""Questions about who handles a problem are answered; a problem stated, or a request to file, is a report."""

from __future__ import annotations

import pytest

from agents.resident import intents


@pytest.mark.parametrize(
    "text",
    [
        "楼下邻居天天开派对唱歌吵到半夜，这归哪个部门管",
        "马路上路面破了好大一个坑，应该找哪个单位",
        "下水道堵了，污水冒到路上，多久能给疏通",
        "单位一直不给我们交社保，说了好几次都不理，你们到底管不管！去哪投诉？",
        "半夜工地施工太吵了，打12345投诉以后多久能来人",
        "停水都一天多了还没来水，按规定该咋办",
    ],
)
def test_a_question_about_a_problem_is_answered_and_names_the_problem(text: str) -> None:
    assert intents.read(text).route == "question"
    assert intents.names_a_problem(text)  # so the answer ends with the offer to file it


@pytest.mark.parametrize(
    "text",
    [
        "幸福路12号的路灯坏了，晚上很黑",
        "停车场乱收费，我要投诉，多久给处理",
        "帮我报修一下楼道的灯",
        "我要投诉楼下噪音",
    ],
)
def test_a_problem_stated_or_a_request_to_file_is_a_report(text: str) -> None:
    assert intents.read(text).route == "report"


def test_an_ordinary_question_offers_no_report() -> None:
    assert not intents.names_a_problem("居住证办理需要带什么材料")
