"""A status reply tells the state in the city's own words when its pack names them, else in the assistant's.

The closed loop's states are the engine's (上报 … 办结); how each is told to the resident who asks is
the city's data (``hotline.yaml`` ``states``), checked when the pack is read.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agents.resident import prompts
from tests.agents import test_resident_graph as graph_tests
from tests.agents.test_resident_graph import DEMO, Harness, ScriptedRetriever, final
from tools.citypack import check_pack, city_of, read_pack
from tools.llm import NullLLMClient
from tools.work_orders import State

HAIBIN = Path(__file__).resolve().parents[1] / "data" / "citypacks" / "haibin"
OWN_WORDS = {"派发": "已转交承办部门，请耐心等候其开始处理"}


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    shutil.copytree(HAIBIN, tmp_path / "pack")
    return tmp_path / "pack"


def add_states(pack: Path, yaml: str) -> None:
    path = pack / "hotline.yaml"
    path.write_text(path.read_text("utf-8") + yaml, "utf-8")


def test_a_pack_may_word_the_states_and_the_rest_keep_the_assistants_words(pack: Path) -> None:
    add_states(pack, "states:\n  派发: 已转交承办部门，请耐心等候其开始处理\n")
    city = city_of(read_pack(pack))
    assert city.state_words == OWN_WORDS
    words = prompts.for_city(city).state_words
    assert words["派发"] == OWN_WORDS["派发"] and words["上报"] == prompts.STATE_WORDS["上报"]
    assert set(prompts.STATE_WORDS) == {s.value for s in State}  # every state of the loop has words


def test_an_unknown_state_or_markup_in_a_states_wording_is_named_with_its_line(pack: Path) -> None:
    hotline = (pack / "hotline.yaml").read_text("utf-8")
    for yaml, problem in (
        (
            "states:\n  已派单: 已转交\n",
            "states: the states are 上报、受理、派发、处置、反馈、办结、退回、合并; unknown: 已派单",
        ),
        (
            "states:\n  办结: <b>好了</b>\n",
            "states.办结: '<b>好了</b>': no line breaks, quotes, braces, angle brackets",
        ),
    ):
        (pack / "hotline.yaml").write_text(hotline + yaml, "utf-8")
        found, problems = check_pack(pack)
        assert found is None and any(problem in str(p) for p in problems), problems


@pytest.fixture
async def worded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    monkeypatch.setattr(graph_tests, "DEMO", replace(DEMO, state_words=OWN_WORDS))  # the harness's city
    h = Harness(tmp_path, NullLLMClient(), ScriptedRetriever({}))
    await h.start()
    yield h
    if h.conn is not None:
        await h.conn.close()


async def test_the_status_reply_uses_the_citys_words(worded: Any) -> None:
    h = worded
    await h.say("东湖区人民路88号的路灯不亮了，三天前开始的")
    ticket = final(await h.say("确认"), "ticket")["ticket"]
    h.store.transition(ticket, State.ACCEPTED, "hotline")
    h.store.transition(ticket, State.DISPATCHED, "hotline", department="区城市管理局", reason="派发至路灯所")
    text = final(await h.say("我刚才反映的路灯问题现在处理到哪一步了？"), "answer")["text"]
    assert OWN_WORDS["派发"] in text and prompts.STATE_WORDS["派发"] not in text
    assert "区城市管理局" in text and "办结时限" in text and "派发至路灯所" in text
