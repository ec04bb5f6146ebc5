"""Traces: the span tree of resident turns over the scripted fake model, and no personal data in it.

The resident assistant runs for real (a real policy retriever over the demo city's housing-fund
document, BM25, a real work-order store and checkpoints) and talks to the scripted fake OpenAI server
over loopback through the real client; spans go to an in-memory exporter. The SDK provider is handed
to :mod:`tools.telemetry`'s tracer for each test only (monkeypatched), so no global provider is left
behind for other tests.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import aiosqlite
import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agents.dispatch import DispatchDeps
from agents.dispatch.runner import DispatchAgent
from agents.resident import ResidentDeps, build_graph
from agents.resident.runner import ResidentAssistant, TurnEvent
from eval.bench.fakes import Reply
from eval.bench.fast_model import FakeOpenAI
from knowledge.config import EmbeddingSettings
from knowledge.embeddings import build_embedder
from knowledge.index import EdgeIndex
from knowledge.ingest import Ingestor
from knowledge.registry import DocumentRegistry
from knowledge.retriever import PolicyRetriever
from service.demo_city import DOCUMENTS_DIR, PACK_DIR, WORK_ORDERS_CSV
from service.settings import load_settings
from tools import telemetry
from tools.audit import AuditLog
from tools.citypack import city_of, read_pack
from tools.db import DatabaseSettings, make_engine, migrate
from tools.dispatch.duties import DutyTable
from tools.dispatch.history import DispatchHistory, read_history
from tools.dispatch.model import DispatchModel, TrainingOrder
from tools.llm import NullLLMClient, OpenAICompatibleClient
from tools.llm.config import LLMSettings
from tools.work_orders import NewWorkOrder, State, WorkOrderStore
from tools.work_orders.contacts import PendingContacts

PHONE = "13812345678"
ID_NUMBER = "110101199003071234"
QUESTION = f"我身份证{ID_NUMBER}，公积金租房提取每年能提取几次？"
ANSWER = "租房提取每年最多可提取一次，每次不超过12000元〔示例市住房公积金提取管理办法 第四条〕。"
CONVERSATION = "web:telemetry-session-secret"


def client_for(fake: FakeOpenAI) -> OpenAICompatibleClient:
    settings = LLMSettings(backend="vllm", base_url=fake.base_url, model="fake-model", max_retries=0)
    return OpenAICompatibleClient(settings, fake.base_url)


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_tracer", provider.get_tracer(telemetry.SCOPE))
    yield exporter
    provider.shutdown()


class Resident:
    """The assistant over the fake model, a real retriever, store and checkpoints."""

    def __init__(self, tmp_path: Path, fake: FakeOpenAI) -> None:
        self.engine = make_engine(DatabaseSettings(), tmp_path)
        migrate(self.engine)
        self.store = WorkOrderStore(self.engine)
        docs = tmp_path / "docs"
        docs.mkdir()
        shutil.copy(DOCUMENTS_DIR / "04-住房公积金提取管理办法.md", docs)
        embedder = build_embedder(EmbeddingSettings())
        index = EdgeIndex(tmp_path / "index")
        Ingestor(index, DocumentRegistry(self.engine), embedder).ingest_paths([docs], embed=False)
        self.retriever = PolicyRetriever(index, embedder)
        self.fake = fake
        self.llm = client_for(fake)
        self.contacts = PendingContacts(self.engine)
        self.checkpoints = tmp_path / "checkpoints.db"
        self.assistant: ResidentAssistant | None = None
        self.conn: aiosqlite.Connection | None = None

    async def __aenter__(self) -> Resident:
        self.conn = await aiosqlite.connect(self.checkpoints)
        deps = ResidentDeps(
            retriever=lambda: self.retriever,
            llm=lambda: self.llm,
            store=self.store,
            contacts=self.contacts,
            city=city_of(read_pack(PACK_DIR)),
            min_bm25_score=1.0,  # one document in the index: BM25 scores are low (not tested here)
        )
        graph = build_graph(deps, AsyncSqliteSaver(self.conn))
        self.assistant = ResidentAssistant(graph, AuditLog(self.engine), contacts=self.contacts)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.llm.aclose()
        if self.conn is not None:
            await self.conn.close()
        self.engine.dispose()

    async def say(self, text: str) -> list[TurnEvent]:
        assert self.assistant is not None
        return [event async for event in self.assistant.turn(CONVERSATION, text)]


@pytest.fixture
async def resident(tmp_path: Path) -> AsyncIterator[Resident]:
    script = [Reply(content=ANSWER), Reply(content="外地户口租房提取公积金的次数"), Reply(content=ANSWER)]
    with FakeOpenAI(script) as fake:
        async with Resident(tmp_path, fake) as made:
            yield made


def tree(finished: Sequence[ReadableSpan]) -> dict[str, list[str]]:
    """Each root span's name -> its children's names, in start order."""
    by_id = {s.context.span_id: s for s in finished if s.context is not None}
    roots = [s for s in finished if s.parent is None or s.parent.span_id not in by_id]
    out: dict[str, list[str]] = {}
    for root in sorted(roots, key=lambda s: s.start_time or 0):
        assert root.context is not None
        children = [s for s in finished if s.parent is not None and s.parent.span_id == root.context.span_id]
        out.setdefault(root.name, []).extend(
            c.name for c in sorted(children, key=lambda s: s.start_time or 0)
        )
    return out


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def named(finished: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in finished if s.name == name]


async def test_a_question_turn_is_an_agent_span_over_retrieval_and_a_streamed_chat(
    resident: Resident, spans: InMemorySpanExporter
) -> None:
    events = await resident.say(QUESTION)
    assert next(e.data for e in events if e.kind == "done")["route"] == "question"
    finished = spans.get_finished_spans()
    assert tree(finished) == {"invoke_agent resident": ["retrieval policies", "chat fake-model"]}

    (agent,) = named(finished, "invoke_agent resident")
    agent_attrs = attributes(agent)
    assert agent_attrs[telemetry.OPERATION] == "invoke_agent"
    assert agent_attrs[telemetry.AGENT_NAME] == "resident"
    assert agent_attrs[telemetry.CONVERSATION_ID] == telemetry.pseudonym(CONVERSATION)
    assert agent_attrs["cityagent.route"] == "question"
    assert agent.kind == SpanKind.INTERNAL and agent.status.status_code != StatusCode.ERROR

    (retrieval,) = named(finished, "retrieval policies")
    found = attributes(retrieval)
    assert found[telemetry.OPERATION] == "retrieval" and found[telemetry.DATA_SOURCE] == "policies"
    assert found["cityagent.retrieval.mode"] == "hybrid" and found[telemetry.REQUEST_TOP_K] == 4
    assert found["cityagent.retrieval.hits"] == len(found["cityagent.retrieval.point_ids"]) > 0
    assert found["cityagent.retrieval.latency_ms"] >= found["cityagent.retrieval.bm25_ms"] >= 0

    (chat,) = named(finished, "chat fake-model")
    asked = attributes(chat)
    assert chat.kind == SpanKind.CLIENT
    assert asked[telemetry.OPERATION] == "chat" and asked[telemetry.REQUEST_MODEL] == "fake-model"
    assert asked[telemetry.PROVIDER] == "vllm" and asked[telemetry.REQUEST_STREAM] is True
    assert asked[telemetry.SERVER_ADDRESS] == "127.0.0.1" and asked["cityagent.stream.chunks"] == len(ANSWER)
    (streamed,) = [c for c in resident.fake.script.calls if c.kind == "stream"]
    assert resident.fake.requests[-1]["stream_options"] == {"include_usage": True}
    assert asked[telemetry.INPUT_TOKENS] == streamed.prompt_tokens > 0  # from the stream's last chunk
    assert asked[telemetry.OUTPUT_TOKENS] == len(ANSWER)
    assert asked[telemetry.FINISH_REASONS] == ("stop",) and asked[telemetry.RESPONSE_MODEL] == "fake-model"


async def test_a_follow_up_is_rewritten_by_a_chat_with_its_token_usage(
    resident: Resident, spans: InMemorySpanExporter
) -> None:
    await resident.say("公积金租房提取每年能提取几次？")
    spans.clear()
    await resident.say("那外地户口呢？")
    finished = spans.get_finished_spans()
    children = tree(finished)["invoke_agent resident"]
    assert children[:2] == ["chat fake-model", "retrieval policies"]
    rewrite = next(
        s for s in named(finished, "chat fake-model") if not attributes(s)[telemetry.REQUEST_STREAM]
    )
    usage = attributes(rewrite)
    (asked,) = [c for c in resident.fake.script.calls if c.kind == "chat"]
    assert usage[telemetry.INPUT_TOKENS] == asked.prompt_tokens > 0  # the fake's usage: one per character
    assert usage[telemetry.OUTPUT_TOKENS] == len("外地户口租房提取公积金的次数")
    assert usage[telemetry.RESPONSE_MODEL] == "fake-model"
    assert usage[telemetry.FINISH_REASONS] == ("stop",)
    assert usage[telemetry.REQUEST_MAX_TOKENS] == 60 and usage[telemetry.REQUEST_TEMPERATURE] == 0.0


async def test_a_filed_report_is_an_execute_tool_span_and_no_personal_data_is_in_any_span(
    resident: Resident, spans: InMemorySpanExporter
) -> None:
    texts = [
        QUESTION,
        "东湖区人民路88号路灯不亮了，今天早上发现的",
        f"确认，请回电 {PHONE}",
        "我的工单办得怎么样了？",
    ]
    turns = [await resident.say(text) for text in texts]
    ticket = next(e.data for e in turns[2] if e.kind == "ticket")["ticket"]
    finished = spans.get_finished_spans()
    assert len(named(finished, "invoke_agent resident")) == 4
    (tool,) = named(finished, "execute_tool work_orders.create")
    assert tree(finished)["invoke_agent resident"][-2:] == [
        "execute_tool work_orders.create",
        "execute_tool work_orders.get",
    ]
    filed = attributes(tool)
    assert filed[telemetry.OPERATION] == "execute_tool" and filed[telemetry.TOOL_NAME] == "work_orders.create"
    assert filed["cityagent.ticket"] == ticket and filed["cityagent.created"] is True

    everything = " ".join(
        f"{s.name} {attributes(s)} {[(e.name, dict(e.attributes or {})) for e in s.events]} "
        f"{s.status.description} {s.resource.attributes}"
        for s in finished
    )
    assert PHONE not in everything and PHONE[-4:] not in everything  # not even masked: no text at all
    assert ID_NUMBER not in everything and ID_NUMBER[-4:] not in everything
    assert CONVERSATION not in everything and "telemetry-session-secret" not in everything
    for text in [*texts, ANSWER, "路灯不亮", "人民路", "公积金"]:
        assert text not in everything


async def test_dispatch_prepare_and_review_are_agent_spans(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    rows, _ = read_history(WORK_ORDERS_CSV)
    duties = DutyTable.from_document(DOCUMENTS_DIR / "23-12345热线派单目录及部门权责清单.md")
    model = DispatchModel(duties).fit([TrainingOrder.from_history_row(r) for r in rows])
    engine = make_engine(DatabaseSettings(), tmp_path)
    migrate(engine)
    deps = DispatchDeps(WorkOrderStore(engine), model, NullLLMClient(), DispatchHistory(engine))
    order, _ = deps.store.create(NewWorkOrder(text=f"湖滨路一家餐馆油烟直排，电话{PHONE}"), "resident")
    ticket = order.ticket
    async with aiosqlite.connect(tmp_path / "dispatch.db") as conn:
        agent = DispatchAgent(deps, AsyncSqliteSaver(conn), AuditLog(engine))
        await agent.prepare(ticket)
        await agent.review(ticket, {"action": "approve", "actor": "caseworker-7", "reason": f"已回电{PHONE}"})
    assert deps.store.get(ticket).state == State.DISPATCHED
    finished = spans.get_finished_spans()
    steps = {attributes(s)["cityagent.step"]: attributes(s) for s in named(finished, "invoke_agent dispatch")}
    assert set(steps) == {"prepare", "review"}
    assert (
        steps["prepare"][telemetry.OPERATION] == "invoke_agent"
        and steps["prepare"]["cityagent.awaiting_review"] is True
    )
    assert (
        steps["review"][telemetry.AGENT_NAME] == "dispatch"
        and steps["review"]["cityagent.action"] == "approve"
    )
    assert steps["prepare"]["cityagent.ticket"] == steps["review"]["cityagent.ticket"] == ticket
    assert PHONE not in str([attributes(s) for s in finished]) and "5678" not in str(steps)
    engine.dispose()


async def test_a_failed_model_call_marks_its_span_with_the_error_class_only(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    with FakeOpenAI([Reply(status=400)]) as fake:
        client = client_for(fake)
        with pytest.raises(Exception, match="refused"):
            await client.chat([{"role": "user", "content": f"电话{PHONE}"}])
        await client.aclose()
    (chat,) = spans.get_finished_spans()
    assert chat.status.status_code == StatusCode.ERROR
    assert attributes(chat)[telemetry.ERROR_TYPE] == "LLMError"
    assert chat.status.description == "LLMError" and not chat.events  # no exception message, no stack


def test_strings_slipped_into_attributes_are_masked(spans: InMemorySpanExporter) -> None:
    with telemetry.span("execute_tool", "demo", attributes={"note": f"回电{PHONE}", "ids": [ID_NUMBER]}):
        pass
    (span,) = spans.get_finished_spans()
    assert attributes(span)["note"] == "回电138****5678"
    assert attributes(span)["ids"] == ("110101********1234",)


def test_with_no_endpoint_no_exporter_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(key, raising=False)
    before = trace.get_tracer_provider()
    settings = load_settings()
    assert settings.telemetry.otlp_endpoint is None
    assert telemetry.build_provider(settings.telemetry) is None
    assert telemetry.configure(settings.telemetry) is None
    assert trace.get_tracer_provider() is before  # the API's no-op provider: spans do not record
    with telemetry.span("chat", "x") as span:
        assert not span.is_recording()


def test_the_endpoint_comes_from_the_settings_or_the_standard_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CITYAGENT_TELEMETRY__OTLP_ENDPOINT", "http://127.0.0.1:4318")
    settings = load_settings().telemetry
    assert telemetry.traces_endpoint(settings, {}) == "http://127.0.0.1:4318/v1/traces"
    unset = telemetry.TelemetrySettings()
    standard = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}
    assert telemetry.traces_endpoint(unset, standard) == "http://collector:4318/v1/traces"
    traces_only = {**standard, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom"}
    assert telemetry.traces_endpoint(unset, traces_only) == "http://c:4318/custom"
    assert telemetry.traces_endpoint(unset, {**standard, "OTEL_SDK_DISABLED": "true"}) is None
    assert telemetry.traces_endpoint(unset, {}) is None

    provider = telemetry.build_provider(settings, {})
    assert provider is not None
    try:
        (processor,) = provider._active_span_processor._span_processors  # type: ignore[attr-defined]
        exporter = processor.span_exporter
        assert type(exporter).__name__ == "OTLPSpanExporter"
        assert exporter._endpoint == "http://127.0.0.1:4318/v1/traces"
        assert provider.resource.attributes["service.name"] == "cityagent"
    finally:
        provider.shutdown()  # nothing was recorded: nothing is sent


class Collector(BaseHTTPRequestHandler):
    """A loopback OTLP/HTTP collector: keeps each posted ExportTraceServiceRequest."""

    received: ClassVar[list[tuple[str, ExportTraceServiceRequest]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.received.append((self.path, request))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def test_spans_reach_an_otlp_http_collector_named_by_the_standard_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = HTTPServer(("127.0.0.1", port), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Collector.received = []
    try:
        provider = telemetry.build_provider(
            telemetry.TelemetrySettings(), {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
        )
        assert provider is not None
        monkeypatch.setattr(telemetry, "_tracer", provider.get_tracer(telemetry.SCOPE))
        with telemetry.span(
            telemetry.INVOKE_AGENT, "resident", attributes={telemetry.AGENT_NAME: "resident"}
        ):
            with telemetry.tool_span("work_orders.create"):
                pass
        provider.shutdown()  # flushes the batch
    finally:
        server.shutdown()
        server.server_close()
    ((path, request),) = Collector.received
    assert path == "/v1/traces"
    (resource_spans,) = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
    names = sorted(span.name for scope in resource_spans.scope_spans for span in scope.spans)
    assert service == "cityagent" and names == ["execute_tool work_orders.create", "invoke_agent resident"]
