"""Traces: OpenTelemetry spans named by the GenAI semantic conventions, with no personal data in them.

Span tree of one resident turn (``gen_ai.operation.name`` in brackets)::

    invoke_agent resident          [invoke_agent]  gen_ai.agent.name, gen_ai.conversation.id (hashed)
      retrieval policies           [retrieval]     mode, gen_ai.request.top_k, hits, latency per step
      chat <model>                 [chat]          gen_ai.request.model, gen_ai.usage.*_tokens
      execute_tool work_orders.create [execute_tool] gen_ai.tool.name

The dispatch agent's ``prepare`` and ``review`` are ``invoke_agent dispatch`` spans.

What never goes into an attribute: message texts, prompts, answers, queries, tool arguments and
exception messages (a failed span carries ``error.type``, the exception's class, only). Conversation
ids are pseudonyms (:func:`pseudonym`: the session id is a bearer secret). Every other string value
is passed through :func:`tools.privacy.mask_pii` on the way in, in case a caller slips.

Off unless an OTLP endpoint is configured (:class:`TelemetrySettings` or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``): no SDK is imported, no
exporter runs, and the spans below are the OpenTelemetry API's non-recording ones (attributes are
only computed for a recording span). :func:`configure`, called once by the composition root,
installs the SDK's tracer provider with a batching OTLP/HTTP exporter.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from pydantic import BaseModel, ConfigDict, Field

from tools.privacy import mask_pii

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
AttributeValue = str | bool | int | float | Sequence[str] | Sequence[int] | Sequence[float]

SCOPE = "cityagent"
# GenAI semantic conventions (development status): names as of semconv 1.41,
# opentelemetry-semantic-conventions 0.66b2
OPERATION = "gen_ai.operation.name"
AGENT_NAME = "gen_ai.agent.name"
CONVERSATION_ID = "gen_ai.conversation.id"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_STREAM = "gen_ai.request.stream"
REQUEST_TOP_K = "gen_ai.request.top_k"
RESPONSE_MODEL = "gen_ai.response.model"
FINISH_REASONS = "gen_ai.response.finish_reasons"
TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOOL_NAME = "gen_ai.tool.name"
TOOL_TYPE = "gen_ai.tool.type"
DATA_SOURCE = "gen_ai.data_source.id"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"

CHAT, EMBEDDINGS, RETRIEVAL = "chat", "embeddings", "retrieval"
INVOKE_AGENT, EXECUTE_TOOL = "invoke_agent", "execute_tool"

_PSEUDONYMS = frozenset({CONVERSATION_ID})  # already hashed: not run through the masking
_TRACES_PATH = "/v1/traces"

_tracer = trace.get_tracer(SCOPE)  # the API's proxy: it follows whichever provider is installed


class TelemetrySettings(BaseModel):
    """Where traces go (nowhere by default)."""

    model_config = ConfigDict(extra="forbid")

    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector, e.g. http://127.0.0.1:4318 (/v1/traces is added); unset: the "
        "standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, else no traces are exported.",
    )
    service_name: str = Field(default="cityagent", min_length=1, description="The resource's service.name.")


def traces_endpoint(settings: TelemetrySettings, environ: Mapping[str, str] | None = None) -> str | None:
    """The URL spans are posted to, or None when tracing is off.

    The setting wins, then ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as it is), then
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (``/v1/traces`` added). ``OTEL_SDK_DISABLED=true`` or
    ``OTEL_TRACES_EXPORTER=none`` turn the environment's endpoints off.
    """
    env = os.environ if environ is None else environ
    if settings.otlp_endpoint and settings.otlp_endpoint.strip():
        return _with_traces_path(settings.otlp_endpoint.strip())
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return None
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip():
        return env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].strip()
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip():
        return _with_traces_path(env["OTEL_EXPORTER_OTLP_ENDPOINT"].strip())
    return None


def _with_traces_path(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith(_TRACES_PATH) else base + _TRACES_PATH


def build_provider(
    settings: TelemetrySettings, environ: Mapping[str, str] | None = None
) -> TracerProvider | None:
    """An SDK tracer provider exporting over OTLP/HTTP in batches, or None when no endpoint is set."""
    endpoint = traces_endpoint(settings, environ)
    if endpoint is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def configure(settings: TelemetrySettings) -> TracerProvider | None:
    """Install the exporting provider once per process (None: tracing is off, nothing installed).

    The caller shuts the returned provider down at exit, which flushes the spans still queued.
    """
    provider = build_provider(settings)
    if provider is None:
        return None
    installed = trace.get_tracer_provider()
    if type(installed).__module__.startswith("opentelemetry.sdk"):  # a second app in this process
        logger.info("a tracer provider is installed already: keeping it")
        provider.shutdown()
        return None
    trace.set_tracer_provider(provider)
    logger.info("traces are exported to %s", traces_endpoint(settings))
    return provider


def pseudonym(value: str) -> str:
    """A stable, one-way name for an identifier that could lead to a person (a conversation's id)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def _clean(attributes: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """Nones dropped; strings (and strings in lists) masked, except the pseudonyms made here."""
    out: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, str):
            out[key] = value if key in _PSEUDONYMS else mask_pii(value)
        elif isinstance(value, list | tuple):
            out[key] = [mask_pii(v) if isinstance(v, str) else v for v in value]
        else:
            out[key] = value
    return out


def annotate(span: Span, attributes: Mapping[str, Any]) -> None:
    """Add ``attributes`` (cleaned) to ``span`` when it records."""
    if span.is_recording():
        span.set_attributes(_clean(attributes))


def annotate_current(attributes: Mapping[str, Any]) -> None:
    """Add ``attributes`` to the current span (when it records)."""
    annotate(trace.get_current_span(), attributes)


def fail(span: Span, exc: BaseException) -> None:
    """Mark ``span`` failed by ``exc``'s class (its message may hold personal data: not recorded)."""
    fail_as(span, type(exc).__qualname__)


def fail_as(span: Span, error_type: str) -> None:
    """Mark ``span`` failed, ``error.type`` being a class or code (low cardinality, no personal data)."""
    if span.is_recording():
        span.set_attribute(ERROR_TYPE, error_type)
        span.set_status(Status(StatusCode.ERROR, error_type))


def _off() -> bool:
    """Whether no tracer provider is installed (the API's proxy has nothing to delegate to)."""
    return isinstance(_tracer, trace.ProxyTracer) and isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider
    )


def _name(operation: str, target: str) -> str:
    return f"{operation} {target}" if target else operation


def open_span(
    operation: str,
    target: str = "",
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> Span:
    """A started span, child of the current one but not made current; the caller ends it."""
    started = _tracer.start_span(_name(operation, target), kind=kind)
    annotate(started, {OPERATION: operation, **(attributes or {})})
    return started


@contextmanager
def span(
    operation: str,
    target: str = "",
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """A span around a block (current inside it); an exception marks it failed and goes on.

    Named ``"{operation} {target}"`` as the conventions do (``chat qwen2.5``,
    ``execute_tool work_orders.create``).
    Not for a block that yields from an async generator: use :func:`open_span` and :func:`current_during`.
    """
    if _off():  # nothing would record it: skip even making a no-op span current
        yield trace.INVALID_SPAN
        return
    with _tracer.start_as_current_span(
        _name(operation, target), kind=kind, record_exception=False, set_status_on_exception=False
    ) as current:
        annotate(current, {OPERATION: operation, **(attributes or {})})
        try:
            yield current
        except BaseException as exc:
            fail(current, exc)
            raise


def tool_span(name: str, attributes: Mapping[str, Any] | None = None) -> Any:
    """``execute_tool {name}``: a tool an agent calls (the work-order store, the subsidy matcher)."""
    return span(EXECUTE_TOOL, name, attributes={TOOL_NAME: name, TOOL_TYPE: "function", **(attributes or {})})


async def current_during(parent: Span, stream: AsyncIterator[T]) -> AsyncIterator[T]:
    """``stream``'s items, with ``parent`` current while each is produced and not while the consumer runs.

    An async generator shares its consumer's context, so a span made current across a ``yield``
    would leak into the consumer (and fail to detach when the generator is closed elsewhere).
    """
    try:
        while True:
            token = otel_context.attach(trace.set_span_in_context(parent))
            try:
                item = await anext(stream)
            except StopAsyncIteration:
                return
            finally:
                otel_context.detach(token)
            yield item
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:  # the consumer stopped early: close the source in turn
            await close()


def traced(
    operation: str, target: str = "", attributes: Mapping[str, Any] | None = None
) -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Decorate a coroutine function with :func:`span`."""

    def wrap(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(fn)
        async def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            with span(operation, target, attributes=attributes):
                return await fn(*args, **kwargs)

        return inner

    return wrap


def traced_retrieval(
    source: str,
) -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Decorate a search method ``(self, query, *, k, mode, ...) -> hits``: ``retrieval {source}``.

    Records the mode, ``k``, the hit count, their point ids (ids of policy passages), the latency and,
    when the searcher keeps a ``last_timing`` dataclass, its fields. Never the query.
    """

    def wrap(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        async def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            with span(RETRIEVAL, source, attributes={DATA_SOURCE: source}) as current:
                started = time.perf_counter()
                result = await fn(*args, **kwargs)
                if current.is_recording():
                    annotate(current, _retrieval_attributes(signature, args, kwargs, result, started))
                return result

        return inner

    return wrap


def _retrieval_attributes(
    signature: inspect.Signature, args: Any, kwargs: Any, result: Any, started: float
) -> dict[str, Any]:
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    hits = list(result) if isinstance(result, list | tuple) else []
    out: dict[str, Any] = {
        REQUEST_TOP_K: bound.arguments.get("k"),
        "cityagent.retrieval.mode": bound.arguments.get("mode"),
        "cityagent.retrieval.hits": len(hits),
        "cityagent.retrieval.point_ids": [str(getattr(h, "point_id", "")) for h in hits],
        "cityagent.retrieval.latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    timing = getattr(bound.arguments.get("self"), "last_timing", None)
    if timing is not None and is_dataclass(timing) and not isinstance(timing, type):
        out.update({f"cityagent.retrieval.{key}": round(value, 1) for key, value in asdict(timing).items()})
    return out


def chat_attributes(
    provider: str,
    model: str,
    base_url: str,
    *,
    max_tokens: int | None,
    temperature: float | None,
    stream: bool,
) -> dict[str, Any]:
    """A ``chat`` span's request attributes (no message is recorded)."""
    host, _, port = base_url.split("://", 1)[-1].split("/", 1)[0].rpartition(":")
    return {
        PROVIDER: provider, REQUEST_MODEL: model or None, REQUEST_MAX_TOKENS: max_tokens,
        REQUEST_TEMPERATURE: temperature, REQUEST_STREAM: stream,
        SERVER_ADDRESS: host or port, SERVER_PORT: int(port) if host and port.isdigit() else None,
    }  # fmt: skip


def usage_attributes(
    model: str | None, input_tokens: int | None, output_tokens: int | None, finish_reason: str | None
) -> dict[str, Any]:
    """A ``chat`` span's response attributes, from the response's ``usage``."""
    return {
        RESPONSE_MODEL: model or None,
        INPUT_TOKENS: input_tokens,
        OUTPUT_TOKENS: output_tokens,
        FINISH_REASONS: [finish_reason] if finish_reason else None,
    }


async def traced_stream(
    stream: AsyncIterator[str],
    model: str,
    attributes: Mapping[str, Any],
    response: Mapping[str, Any] | None = None,
) -> AsyncIterator[str]:
    """``stream``'s text deltas inside a ``chat {model}`` span (opened when reading starts, not current).

    Times the first delta and counts them; the span ends with the stream, with ``response``'s
    attributes as the stream left them (its token usage and finish reason, from the last chunk).
    """
    chat_span = open_span(CHAT, model, kind=SpanKind.CLIENT, attributes=attributes)
    started = time.perf_counter()
    chunks = 0
    try:
        async for piece in stream:
            if chunks == 0:
                annotate(chat_span, {TIME_TO_FIRST_CHUNK: round(time.perf_counter() - started, 3)})
            chunks += 1
            yield piece
    except BaseException as exc:
        if not isinstance(exc, GeneratorExit):  # the consumer stopped reading: not a failure
            fail(chat_span, exc)
        raise
    finally:
        annotate(chat_span, {"cityagent.stream.chunks": chunks, **(response or {})})
        chat_span.end()
