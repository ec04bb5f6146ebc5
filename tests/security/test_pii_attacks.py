"""Finding 3 of the security review (issue 14), replayed: personal data in conversations.

The review found the report's confirmation echo keeping the raw phone and ID numbers: the chat
history returned them and the checkpoint files held raw copies; and an ID number in a report was
taken for a 统一社会信用代码 and routed to subsidies. Each attack is replayed here against real
checkpoints (the SQLite file's bytes, PostgreSQL's checkpoint tables), the history, the audit trail
and the stores, and must find the numbers masked everywhere but the order's own contact field.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy import text as sql
from sqlalchemy.exc import OperationalError

from agents.resident import ResidentDeps, build_graph, intents, prompts
from agents.resident.runner import ResidentAssistant, TurnEvent
from service.app import create_app
from service.checkpoints import Checkpoints
from service.settings import load_settings
from tests.agents.test_resident_graph import TEXTS, Harness, ScriptedRetriever, final
from tests.pg import schema_url, throwaway_schema
from tools.audit import AuditLog
from tools.citypack.city import unnamed_city
from tools.db import DatabaseSettings, make_engine, migrate
from tools.llm import NullLLMClient
from tools.privacy import mask_pii
from tools.users import UserStore
from tools.work_orders import WorkOrderStore
from tools.work_orders.contacts import PendingContacts, pending_contacts

CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def mod11_2(first17: str) -> str:
    """The check character of a resident ID (GB 11643, ISO 7064 MOD 11-2), written out independently."""
    total = sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(first17))
    return "10X98765432"[total % 11]


def gb32100(first17: str) -> str:
    """The check character of a unified social credit code (weights 3^i mod 31)."""
    total = sum(CODE_CHARS.index(c) * (3**i % 31) for i, c in enumerate(first17))
    return CODE_CHARS[(31 - total % 31) % 31]


def luhn(digits: str) -> bool:
    total = sum(
        (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d
        for i, d in enumerate(int(c) for c in digits[::-1])
    )
    return total % 10 == 0


RAW_PHONE = "13812345678"
MASKED_PHONE = "138****5678"
REVIEW_ID = "110101199003074518"  # the number the review used (its check character is wrong)
VALID_ID = "11010119900307451" + mod11_2("11010119900307451")  # 110101199003074514
MASKED_ID = "110101********4518"
CREDIT = "91330100MA2B3C4D5" + gb32100("91330100MA2B3C4D5")
CREDIT_DIGITS_ONLY = next(  # an all-digit code: the one an ID-shaped pattern would swallow
    code
    for code in (f"913301001234567{n:02d}" + gb32100(f"913301001234567{n:02d}") for n in range(100))
    if code.isdigit() and not luhn(code)
)
RAWS = (RAW_PHONE, REVIEW_ID, VALID_ID)
REPORT = f"东湖区人民路88号的井盖坏了，今天早上发现的，我叫张三，电话{RAW_PHONE}，身份证号是{REVIEW_ID}"


def test_the_numbers_used_here_are_what_they_claim() -> None:
    assert VALID_ID == "110101199003074514" and mod11_2(REVIEW_ID[:17]) != REVIEW_ID[17]
    assert gb32100(VALID_ID[:17]) != VALID_ID[17] and gb32100(REVIEW_ID[:17]) != REVIEW_ID[17]
    assert CREDIT_DIGITS_ONLY.isdigit() and mod11_2(CREDIT_DIGITS_ONLY[:17]) != CREDIT_DIGITS_ONLY[17]


def leaks(blob: bytes | str) -> list[str]:
    """The raw numbers found in ``blob`` (plain, or hex as PostgreSQL prints bytea)."""
    data = blob.encode() if isinstance(blob, str) else blob
    return [raw for raw in RAWS if raw.encode() in data or raw.encode().hex().encode() in data]


def sqlite_checkpoint_bytes(directory: Path) -> bytes:
    """Every byte of the checkpoint database, its WAL and shared memory included."""
    return b"".join(p.read_bytes() for p in sorted(directory.glob("checkpoints.db*")))


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(tmp_path, NullLLMClient(), ScriptedRetriever({}))
    await h.start()
    yield h
    if h.conn is not None:
        await h.conn.close()


def audit_text(audit: AuditLog) -> str:
    return json.dumps([r.__dict__ for r in audit.records()], ensure_ascii=False, default=str)


def held(h: Harness) -> list[tuple[str, str]]:
    with h.engine.connect() as conn:
        return [(r.conversation, r.phone) for r in conn.execute(select(pending_contacts))]


def contact_of(h: Harness, ticket: str) -> str | None:
    with h.engine.connect() as conn:
        value = conn.execute(
            sql("select contact_phone from work_orders where ticket=:t"), {"t": ticket}
        ).scalar()
    return None if value is None else str(value)


async def test_the_confirmation_echo_history_checkpoints_and_audit_hold_only_masked_numbers(
    harness: Harness,
) -> None:
    h = harness
    echo = final(await h.say(REPORT), "answer")
    assert echo["route"] == "report" and "请确认" in echo["text"]
    assert MASKED_PHONE in echo["text"] and MASKED_ID in echo["text"] and not leaks(echo["text"])
    filed = await h.say(f"确认，请回电 {RAW_PHONE}")
    ticket = final(filed, "ticket")["ticket"]
    await h.conn.commit()  # type: ignore[union-attr]
    stored = sqlite_checkpoint_bytes(h.path.parent)
    assert MASKED_PHONE.encode() in stored and MASKED_ID.encode() in stored  # the scan reads the state
    assert leaks(stored) == []
    history = await h.assistant.history("web:t1")  # type: ignore[union-attr]
    assert MASKED_ID in str(history) and leaks(json.dumps(history, ensure_ascii=False)) == []
    assert MASKED_PHONE in audit_text(h.audit) and leaks(audit_text(h.audit)) == []
    order = h.store.get(ticket)
    assert MASKED_ID in order.text and leaks(order.model_dump_json()) == []
    assert contact_of(h, ticket) == RAW_PHONE  # the one place the raw number lives
    assert held(h) == []  # and the pending copy is gone once the order has it


async def test_a_number_given_while_the_store_is_down_waits_outside_the_checkpoint_until_filed(
    harness: Harness,
) -> None:
    h = harness
    await h.say("建设路98号的井盖破损了，今天早上发现的")
    real_create = h.store.create

    def down(*_: Any, **__: Any) -> Any:
        raise OperationalError("insert", {}, Exception("database is locked"))

    h.store.create = down  # type: ignore[method-assign]
    assert final(await h.say(f"确认 {RAW_PHONE}"), "answer")["text"] == TEXTS.store_down
    assert held(h) == [("web:t1", RAW_PHONE)]
    await h.restart()
    assert leaks(sqlite_checkpoint_bytes(h.path.parent)) == []
    h.store.create = real_create  # type: ignore[method-assign]
    ticket = final(await h.say("重试"), "ticket")["ticket"]
    assert contact_of(h, ticket) == RAW_PHONE and held(h) == []


async def test_a_number_in_passing_is_never_held_and_a_cancel_drops_a_held_one(harness: Harness) -> None:
    h = harness
    await h.say(f"我的电话{RAW_PHONE}，办理居住证需要什么材料？")
    assert held(h) == []
    await h.say("东湖区人民路88号的路灯不亮了，昨天晚上开始的")
    amended = final(await h.say(f"我的电话是{RAW_PHONE}，另外路灯旁边的井盖也松了，请一起处理"), "answer")
    assert "请确认" in amended["text"] and MASKED_PHONE in amended["text"]
    assert held(h) == [("web:t1", RAW_PHONE)]
    assert final(await h.say("取消"), "answer")["text"] == prompts.CANCELLED
    assert held(h) == []
    await h.conn.commit()  # type: ignore[union-attr]
    assert leaks(sqlite_checkpoint_bytes(h.path.parent)) == [] and h.store.count() == 0


async def test_an_id_number_in_a_report_is_filed_as_a_report_never_taken_for_a_credit_code(
    harness: Harness,
) -> None:
    h = harness
    for number in (VALID_ID, REVIEW_ID):
        assert intents.credit_code_in(f"我的身份证号{number}") is None
        assert intents.read(f"我要举报，有人冒用我的身份证号{number}办了营业执照").route == "report"
    first = final(
        await h.say(f"我要举报，有人冒用我的身份证号{VALID_ID}在东湖区人民路88号开店，今天发现的"), "answer"
    )
    assert first["route"] == "report"
    ticket = final(await h.say("确认"), "ticket")["ticket"]
    order = h.store.get(ticket)
    assert "110101********4514" in order.text and leaks(order.model_dump_json()) == []
    assert leaks(audit_text(h.audit)) == []


def test_a_credit_code_is_still_a_credit_code_and_kept_readable() -> None:
    for code in (CREDIT, CREDIT_DIGITS_ONLY):
        assert intents.credit_code_in(f"企业{code}能享受哪些补贴？") == code
        assert intents.read(f"{code} 可以申请什么补贴").route == "subsidy"
        assert mask_pii(f"代码{code}，电话{RAW_PHONE}") == f"代码{code}，电话{MASKED_PHONE}"
    assert mask_pii(f"身份证{VALID_ID}") == "身份证110101********4514"
    wrong = CREDIT[:17] + ("0" if CREDIT[17] != "0" else "1")
    assert intents.credit_code_in(f"企业{wrong}补贴") is None


async def test_a_credit_code_reaches_the_matcher_unmasked(tmp_path: Path) -> None:
    engine = make_engine(DatabaseSettings(), tmp_path)
    migrate(engine)
    asked: list[str] = []

    def subsidies(code: str, facts: dict[str, str], *, shared_data: bool) -> list[Any]:
        assert not shared_data  # an anonymous visitor: the registry's record is not for them
        asked.append(code)
        raise KeyError(code)

    store = WorkOrderStore(engine)
    deps = ResidentDeps(retriever=lambda: None, llm=NullLLMClient, store=store, subsidies=subsidies)  # type: ignore[arg-type,return-value]
    checkpoints = Checkpoints(None, tmp_path / "checkpoints.db")
    assistant = ResidentAssistant(build_graph(deps, await checkpoints.open()), None)
    try:
        events = [e async for e in assistant.turn("web:m", f"{CREDIT}能享受什么补贴？电话{RAW_PHONE}")]
    finally:
        await checkpoints.close()
    assert asked == [CREDIT] and final(events, "answer")["text"] == prompts.for_city(
        unnamed_city()
    ).unknown_enterprise(CREDIT)


@pytest.fixture
def pg_checkpoints() -> Iterator[str]:
    with throwaway_schema("piicp") as schema:
        yield schema_url(schema, "postgresql://postgres@127.0.0.1:5432/test")


async def test_postgresql_checkpoint_tables_hold_no_raw_number(pg_checkpoints: str, tmp_path: Path) -> None:
    engine = make_engine(DatabaseSettings(), tmp_path)
    migrate(engine)
    store, contacts = WorkOrderStore(engine), PendingContacts(engine)
    deps = ResidentDeps(retriever=lambda: None, llm=NullLLMClient, store=store, contacts=contacts)  # type: ignore[arg-type,return-value]
    checkpoints = Checkpoints(pg_checkpoints, tmp_path / "unused.db")
    assistant = ResidentAssistant(
        build_graph(deps, await checkpoints.open()), AuditLog(engine), contacts=contacts
    )

    async def say(text: str) -> list[TurnEvent]:
        return [e async for e in assistant.turn("web:pg", text)]

    try:
        await say(REPORT)
        ticket = final(await say(f"确认，请回电 {RAW_PHONE}"), "ticket")["ticket"]
    finally:
        await checkpoints.close()
    dumped = ""
    with psycopg.connect(pg_checkpoints) as pg:
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            dumped += "".join(str(row[0]) for row in pg.execute(f"SELECT t::text FROM {table} t"))
    assert MASKED_ID.encode().hex() in dumped or MASKED_ID in dumped  # the scan reads the state
    assert leaks(dumped) == []
    with engine.connect() as conn:
        phone = conn.execute(
            sql("select contact_phone from work_orders where ticket=:t"), {"t": ticket}
        ).scalar()
    assert phone == RAW_PHONE


# -- over HTTP: the widget's history, the console's call-back number -----------------------------------

PASSWORD = "correct-horse-battery"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    data = tmp_path / "data"
    engine = make_engine(DatabaseSettings(), data)
    migrate(engine)
    users = UserStore(engine)
    users.add("hotline", PASSWORD, ["caseworker"])
    users.add("water", PASSWORD, ["caseworker"], ["示例市供水集团有限公司"])
    users.add("analyst", PASSWORD, ["evaluator"])
    users.add("officer", PASSWORD, ["policy_officer"])
    engine.dispose()
    with TestClient(create_app(load_settings(data_dir=data, llm={"backend": "none"}))) as c:
        yield c


def chat(client: TestClient, message: str) -> dict[str, Any]:
    response = client.post("/api/chat", json={"message": message, "stream": False})
    assert response.status_code == 200, response.text
    return dict(response.json())


def sign_in(client: TestClient, username: str) -> None:
    assert (
        client.post("/api/auth/login", json={"username": username, "password": PASSWORD}).status_code == 200
    )


def test_over_http_history_and_checkpoints_are_masked_and_the_console_shows_the_number_audited(
    client: TestClient, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    echo = chat(client, REPORT)
    assert MASKED_ID in echo["answer"] and leaks(echo["answer"]) == []
    ticket = chat(client, f"确认，请回电 {RAW_PHONE}")["ticket"]
    history = client.get("/api/chat/history")
    assert MASKED_PHONE in history.text and leaks(history.text) == []
    assert leaks(sqlite_checkpoint_bytes(data)) == []
    for name in ("analyst", "officer"):  # the roles that never see orders
        sign_in(client, name)
        refused = client.get(f"/api/orders/{ticket}/contact")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    sign_in(client, "water")  # a department caseworker: the order is not (yet) theirs
    hidden = client.get(f"/api/orders/{ticket}/contact")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "order_not_found"
    assert leaks(hidden.text) == []
    sign_in(client, "hotline")
    assert leaks(client.get(f"/api/orders/{ticket}").text) == []  # the detail does not carry it
    assert leaks(client.get("/api/orders").text) == []
    shown = client.get(f"/api/orders/{ticket}/contact")
    assert shown.status_code == 200 and shown.json() == {"ticket": ticket, "contact_phone": RAW_PHONE}
    assert shown.headers["cache-control"] == "no-store"
    audit = AuditLog(make_engine(DatabaseSettings(), data))
    showings = [r for r in audit.records(route="contact_shown")]
    assert len(showings) == 1 and showings[0].thread == ticket
    assert showings[0].tool_calls[0]["actor"] == "hotline"
    assert leaks(audit_text(audit)) == []


def test_a_conversation_checkpointed_before_the_fix_is_masked_when_shown(client: TestClient) -> None:
    chat(client, "你好")
    conversation = f"web:{client.cookies['cityagent_session'].split('.')[0]}"  # the signed cookie's id
    graph = client.app.state.services.assistant._graph  # type: ignore[attr-defined]
    old = {"messages": [{"role": "user", "content": f"电话{RAW_PHONE}，身份证{VALID_ID}"}]}
    client.portal.call(graph.aupdate_state, {"configurable": {"thread_id": conversation}}, old)  # type: ignore[union-attr]
    history = client.get("/api/chat/history")
    assert MASKED_PHONE in history.text and "110101********4514" in history.text
    assert leaks(history.text) == []
