"""The resident graph on emergencies and abuse read by meaning (scripted model and retrieval, real store)."""

from __future__ import annotations

from typing import Any

from agents.resident import prompts
from agents.resident.emergency import detect_by_rules
from eval.bench.emergency import phrase_list_abuse, phrase_list_baseline
from eval.bench.fakes import ScriptedLLM
from tests.agents import test_resident_graph as graph
from tests.agents.test_resident_graph import final, hit
from tools.work_orders import Urgency

make = graph.make  # the graph tests' harness fixture: real store and checkpoints, scripted model

ELEVATOR = {
    "title": "示例市既有住宅加装电梯办法", "label": "第三条", "source": "09-加装电梯.md", "doc_id": "d09",
    "text": "第三条 加装电梯应当经本单元房屋专有部分面积占比三分之二以上的业主同意。",
}  # fmt: skip


async def test_a_gas_leak_in_residents_words_gets_119_first_then_an_urgent_report(make: Any) -> None:
    text = "我家楼道里煤气味特别重，好像漏气了"
    assert phrase_list_baseline(text) is None  # the wording the old phrase list missed
    h = await make()
    events = await h.say(text)
    assert events[0].kind == "notice"
    notice = events[0].data
    assert notice.startswith("【紧急情况】请立即拨打 119") and "不要开关电器" in notice
    assert notice.index("119") < notice.index("120") and notice.endswith(prompts.EMERGENCY_REPORT)
    answer = final(events, "answer")
    assert (
        answer["route"] == "report" and answer["text"] == prompts.ASK["when"]
    )  # the report is offered at once
    kinds = [e.kind for e in events]
    assert kinds.index("notice") < kinds.index("token")
    (record,) = list(h.audit.records())
    assert record.route == "report" and prompts.EMERGENCY_ID in record.prompt_ids
    await h.say("刚刚")
    ticket = final(await h.say("确认"), "ticket")["ticket"]
    order = h.store.get(ticket)
    assert order.urgency == Urgency.URGENT and "煤气味" in order.text


async def test_someone_collapsed_gets_120_first(make: Any) -> None:
    h = await make()
    events = await h.say("我奶奶倒在卫生间里了 叫她也不应")
    assert events[0].kind == "notice" and events[0].data.startswith("【紧急情况】请立即拨打 120")
    assert final(events, "answer")["route"] == "report"


async def test_a_question_with_family_words_is_answered_not_refused_as_abuse(make: Any) -> None:
    text = "装电梯需要多少户同意？能用我爸妈的公积金来付吗？"
    assert phrase_list_abuse(text)  # what the old list did
    llm = ScriptedLLM(["需要三分之二以上的业主同意〔示例市既有住宅加装电梯办法 第三条〕。"])
    h = await make(llm, {"电梯": [hit(ELEVATOR)]})
    events = await h.say(text)
    answer = final(events, "answer")
    assert answer["route"] == "question" and answer["text"] != prompts.ABUSE
    assert "三分之二" in answer["text"] and not [e for e in events if e.kind == "notice"]


async def test_a_near_miss_is_answered_as_a_question_without_a_notice(make: Any) -> None:
    h = await make()
    events = await h.say("燃气费怎么交，可以在手机上交吗")
    assert not [e for e in events if e.kind == "notice"]
    assert final(events, "answer")["route"] in ("question", "out_of_scope")


async def test_an_emergency_only_the_model_reads_still_comes_first_with_an_urgent_report(make: Any) -> None:
    text = "厨房那根管子一直在响 呼呼的往外跑气"
    assert detect_by_rules(text)[0] is None and phrase_list_baseline(text) is None
    h = await make()
    events = await h.say(text)
    assert events[0].kind == "notice" and events[0].data.startswith("【紧急情况】请立即拨打 119")
    assert events[0].data.endswith(prompts.EMERGENCY_REPORT)
    answer = final(events, "answer")
    assert answer["route"] == "report" and answer["text"] in prompts.ASK.values()  # offered at once
    replies = {prompts.ASK["where"]: "幸福小区3栋2单元501", prompts.ASK["when"]: "刚刚"}
    while answer["text"] in replies:
        answer = final(await h.say(replies[answer["text"]]), "answer")
    ticket = final(await h.say("确认"), "ticket")["ticket"]
    assert h.store.get(ticket).urgency == Urgency.URGENT
