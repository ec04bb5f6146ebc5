"""One OpenAI-compatible client for every backend (vLLM, the embedded llama.cpp server, none).

Agents call :class:`LLMClient` only; which server sits behind it is configuration.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeAlias, TypeVar, cast, runtime_checkable

import httpx2
import openai
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, ValidationError

from tools import telemetry
from tools.llm.config import LLMSettings, StructuredMode
from tools.llm.errors import LLMDisabledError, LLMError, LLMOutputError, LLMUnavailableError
from tools.llm.gate import ModelGate
from tools.llm.jsonrepair import extract_json
from tools.llm.types import ChatResult, Message, Structured, ToolCall, schema_instruction

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
Fallback: TypeAlias = "T | Callable[[], T] | None"


@runtime_checkable
class LLMClient(Protocol):
    """What agents may ask of a model."""

    @property
    def available(self) -> bool:
        """False when there is no model by configuration (backend ``none``)."""
        ...

    @property
    def describe(self) -> str:
        """A short human name of the backend and model, for audit records."""
        ...

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatResult:
        """One completion; tool calls, when the model makes them, are parsed."""
        ...

    def stream(
        self, messages: Sequence[Message], *, temperature: float | None = None, max_tokens: int | None = None
    ) -> AsyncIterator[str]:
        """Yield the answer's text as it is generated."""
        ...

    async def structured(
        self,
        messages: Sequence[Message],
        schema: type[T],
        *,
        fallback: Fallback[T] = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Structured[T]:
        """A value of ``schema``: validated, retried once with the error, else ``fallback``."""
        ...

    async def choose(self, messages: Sequence[Message], choices: Sequence[str]) -> dict[str, float]:
        """How likely the model is to answer with each choice (summing to 1), read off its first token."""
        ...

    async def ping(self) -> str:
        """Raise :class:`LLMUnavailableError` unless the backend answers; return the model name."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def _resolve_fallback(fallback: Fallback[T]) -> T | None:
    if fallback is None or isinstance(fallback, BaseModel):
        return fallback
    return fallback()


def _parse_tool_calls(message: Any) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for call in getattr(message, "tool_calls", None) or []:
        raw = call.function.arguments or "{}"
        try:
            parsed = extract_json(raw)
            if not isinstance(parsed, dict):
                raise ValueError("tool arguments are not a JSON object")
            calls.append(ToolCall(call.id, call.function.name, parsed, raw))
        except ValueError as exc:
            calls.append(ToolCall(call.id, call.function.name, {}, raw, error=str(exc)))
    return calls


class OpenAICompatibleClient:
    """Talks to any OpenAI-compatible chat server: vLLM, llama.cpp's server, a test fake."""

    def __init__(self, settings: LLMSettings, base_url: str, *, model: str | None = None) -> None:
        self._settings = settings
        self._base_url = base_url.rstrip("/")
        self._model = model or settings.model
        self._mode: StructuredMode = settings.effective_structured_mode()
        self.gate = ModelGate(
            settings.effective_max_concurrent(), settings.max_waiting, settings.queue_timeout_s
        )
        self._client = openai.AsyncOpenAI(
            base_url=self._base_url,
            api_key=settings.api_key.get_secret_value() or "EMPTY",
            timeout=openai.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            max_retries=settings.max_retries,
        )

    @property
    def available(self) -> bool:
        """A configured server counts as available; :meth:`ping` says whether it answers."""
        return True

    @property
    def describe(self) -> str:
        """Backend and model, e.g. ``embedded:qwen2.5-coder-1.5b-instruct``."""
        return f"{self._settings.backend}:{self._model or '?'}"

    @property
    def base_url(self) -> str:
        """The server's URL (ends in /v1)."""
        return self._base_url

    def _unavailable(self, exc: Exception) -> LLMUnavailableError:
        return LLMUnavailableError(f"the model server at {self._base_url} did not answer: {exc}")

    async def _model_name(self) -> str:
        if not self._model:
            self._model = await self.ping()
        return self._model

    async def ping(self) -> str:
        """List the server's models; the first one is used when no model is configured."""
        try:
            models = await self._client.with_options(timeout=self._settings.connect_timeout_s).models.list()
        except (openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError) as exc:
            raise self._unavailable(exc) from exc
        except openai.APIStatusError as exc:
            raise LLMUnavailableError(
                f"the model server at {self._base_url} answered {exc.status_code}"
            ) from exc
        names = [m.id for m in models.data]
        if not names:
            raise LLMUnavailableError(f"the model server at {self._base_url} serves no model")
        return self._model or names[0]

    async def _create(self, messages: Sequence[Message], **kwargs: Any) -> Any:
        async with self.gate.slot():
            return await self._send(messages, **kwargs)

    async def _send(self, messages: Sequence[Message], **kwargs: Any) -> Any:
        model = await self._model_name()
        try:
            return await self._client.chat.completions.create(
                model=model, messages=cast(Any, list(messages)), **kwargs
            )
        except (openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError) as exc:
            raise self._unavailable(exc) from exc
        except openai.APIStatusError as exc:
            raise LLMError(
                f"the model server refused the request ({exc.status_code}): {exc.message}"
            ) from exc

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> ChatResult:
        """One completion; see :class:`LLMClient`."""
        kwargs: dict[str, Any] = {
            "temperature": self._settings.temperature if temperature is None else temperature,
            "max_tokens": max_tokens or self._settings.max_tokens,
        }
        if tools:
            kwargs["tools"] = tools
            kwargs["tool_choice"] = tool_choice or "auto"
        if extra_body:
            kwargs["extra_body"] = extra_body
        started = time.perf_counter()
        response, choice = await self._completion(messages, kwargs)
        usage = response.usage
        return ChatResult(
            content=choice.message.content or "",
            tool_calls=_parse_tool_calls(choice.message),
            finish_reason=choice.finish_reason,
            model=response.model or self._model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_s=time.perf_counter() - started,
        )

    async def _completion(self, messages: Sequence[Message], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        """One non-streamed completion inside its ``chat`` span (usage annotated): response, first choice."""
        attributes = self._span_attributes(kwargs, stream=False)
        with telemetry.span(telemetry.CHAT, self._model, kind=SpanKind.CLIENT, attributes=attributes) as chat:
            response = await self._create(messages, **kwargs)
            if not response.choices:
                raise LLMOutputError("the model server returned no choices")
            choice = response.choices[0]
            usage = response.usage
            telemetry.annotate(
                chat,
                telemetry.usage_attributes(
                    response.model,
                    usage.prompt_tokens if usage else None,
                    usage.completion_tokens if usage else None,
                    choice.finish_reason,
                ),
            )
        return response, choice

    def _span_attributes(self, kwargs: dict[str, Any], *, stream: bool) -> dict[str, Any]:
        """A ``chat`` span's request attributes: model, limits, server (never the messages)."""
        return telemetry.chat_attributes(
            self._settings.backend, self._model, self._base_url, stream=stream,
            max_tokens=kwargs.get("max_tokens"), temperature=kwargs.get("temperature"),
        )  # fmt: skip

    def stream(
        self, messages: Sequence[Message], *, temperature: float | None = None, max_tokens: int | None = None
    ) -> AsyncIterator[str]:
        """Yield text deltas; a connection lost mid-stream raises :class:`LLMUnavailableError`.

        The model slot is held until the stream ends (or the consumer stops reading it).
        """
        kwargs: dict[str, Any] = {
            "temperature": self._settings.temperature if temperature is None else temperature,
            "max_tokens": max_tokens or self._settings.max_tokens,
        }
        attributes = self._span_attributes(kwargs, stream=True)
        seen: dict[str, Any] = {}  # the response's model, usage and finish reason, for the span
        return telemetry.traced_stream(self._stream(messages, kwargs, seen), self._model, attributes, seen)

    async def _stream(
        self, messages: Sequence[Message], kwargs: dict[str, Any], seen: dict[str, Any]
    ) -> AsyncIterator[str]:
        async with self.gate.slot():
            # include_usage: the last chunk carries the token usage (vLLM, llama.cpp; others ignore it)
            response = await self._send(
                messages, stream=True, stream_options={"include_usage": True}, **kwargs
            )
            finish: str | None = None
            try:
                async for chunk in response:
                    if chunk.choices and chunk.choices[0].finish_reason:
                        finish = chunk.choices[0].finish_reason
                    if usage := getattr(chunk, "usage", None):
                        seen.update(
                            telemetry.usage_attributes(
                                chunk.model, usage.prompt_tokens, usage.completion_tokens, finish
                            )
                        )
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
                if finish and not seen.get(telemetry.FINISH_REASONS):
                    seen[telemetry.FINISH_REASONS] = [finish]
            except (openai.APIError, httpx2.HTTPError, OSError) as exc:  # the SDK's transport is httpx2
                raise self._unavailable(exc) from exc
            finally:
                with contextlib.suppress(openai.APIError, httpx2.HTTPError, OSError):
                    await response.close()

    def _format_kwargs(self, schema: type[BaseModel]) -> dict[str, Any]:
        json_schema = schema.model_json_schema()
        if self._mode == "json_schema":
            fmt = {"type": "json_schema", "json_schema": {"name": schema.__name__, "schema": json_schema}}
            return {"extra_body": {"response_format": fmt}}
        if self._mode == "json_object":
            # llama.cpp's server turns the schema into a grammar.
            return {"extra_body": {"response_format": {"type": "json_object", "schema": json_schema}}}
        return {}

    async def structured(
        self,
        messages: Sequence[Message],
        schema: type[T],
        *,
        fallback: Fallback[T] = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Structured[T]:
        """Ask for ``schema``; validate; retry once with the validation error; then fall back."""

        async def ask(convo: list[Message], temperature: float, max_tokens: int | None) -> ChatResult:
            return await self.chat(
                convo, temperature=temperature, max_tokens=max_tokens, **self._format_kwargs(schema)
            )

        return await structured_by_chat(
            ask, messages, schema, fallback=fallback, temperature=temperature, max_tokens=max_tokens
        )

    async def choose(self, messages: Sequence[Message], choices: Sequence[str]) -> dict[str, float]:
        """One token, greedy, with the top log-probabilities (vLLM and llama.cpp's server give them).

        The probability of a choice is the mass of the first tokens it starts with, normalised over
        the choices; a server that returns no log-probabilities counts its one token as certain.
        """
        kwargs: dict[str, Any] = {"temperature": 0.0, "max_tokens": 1, "logprobs": True, "top_logprobs": 10}
        _response, choice = await self._completion(messages, kwargs)
        content = getattr(choice.logprobs, "content", None) or []
        top = [(t.token, t.logprob) for t in (content[0].top_logprobs or [])] if content else []
        return choice_probabilities(choices, top, choice.message.content or "")

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()


def choice_probabilities(
    choices: Sequence[str], top: Sequence[tuple[str, float]], written: str
) -> dict[str, float]:
    """Each choice's share of the first-token mass in ``top`` ((token, log-probability) pairs).

    A token counts for the choice it begins (是 for 是的); no mass on any choice, or no
    log-probabilities at all, falls back to the token the model wrote (certain), and a model that
    wrote none of the choices raises :class:`LLMOutputError`.
    """
    mass = dict.fromkeys(choices, 0.0)
    for token, logprob in top:
        piece = token.strip()
        for option in choices:
            if piece and (option.startswith(piece) or piece.startswith(option)):
                mass[option] += math.exp(logprob)
                break
    total = sum(mass.values())
    if total > 0:
        return {option: value / total for option, value in mass.items()}
    chosen = [option for option in choices if written.strip() and option.startswith(written.strip()[:1])]
    if not chosen:
        raise LLMOutputError(f"the model answered {written[:20]!r}, none of {list(choices)}")
    return {option: float(option == chosen[0]) for option in choices}


def _short_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:5]]
        return "; ".join(parts)
    return str(exc)


Ask: TypeAlias = Callable[[list[Message], float, int | None], Awaitable[ChatResult]]


async def structured_by_chat(
    ask: Ask,
    messages: Sequence[Message],
    schema: type[T],
    *,
    fallback: Fallback[T] = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> Structured[T]:
    """:meth:`LLMClient.structured` over any chat; ``ask(convo, temperature, max_tokens)`` makes one attempt.

    The schema instruction is appended; an invalid answer is sent back once with the validation error;
    then the fallback, or :class:`LLMOutputError`. An unavailable model gives the fallback at once.
    """
    convo: list[Message] = [*messages, {"role": "system", "content": schema_instruction(schema)}]
    raws: list[str] = []
    error = ""
    for attempt in (1, 2):
        try:
            result = await ask(convo, 0.0 if temperature is None else temperature, max_tokens)
        except LLMUnavailableError as exc:
            return _fallback_or_raise(
                fallback, schema=schema, error=str(exc), raws=raws, attempts=attempt, cause=exc
            )
        raws.append(result.content)
        try:
            value = schema.model_validate(extract_json(result.content))
            return Structured(value, "model" if attempt == 1 else "retry", attempt, None, tuple(raws))
        except (ValueError, ValidationError) as exc:
            error = _short_error(exc)
            logger.info("structured %s attempt %s invalid: %s", schema.__name__, attempt, error)
            convo += [
                {"role": "assistant", "content": result.content},
                {
                    "role": "user",
                    "content": f"上面的回答不符合要求：{error}。请只输出修正后的 JSON 对象。",
                },
            ]
    return _fallback_or_raise(fallback, schema=schema, error=error, raws=raws, attempts=2, cause=None)


def _fallback_or_raise(
    fallback: Fallback[T],
    *,
    schema: type[T],
    error: str,
    raws: list[str],
    attempts: int,
    cause: LLMUnavailableError | None,
) -> Structured[T]:
    value = _resolve_fallback(fallback)
    if value is not None:
        logger.warning("structured %s fell back: %s", schema.__name__, error)
        return Structured(value, "fallback", attempts, error, tuple(raws))
    if cause is not None:
        raise cause
    raise LLMOutputError(
        f"the model did not produce a valid {schema.__name__}: {error}", raws[-1] if raws else ""
    )


class NullLLMClient:
    """No usable model: backend ``none`` (``disabled``) or a backend that failed to start.

    Chat and streaming raise; structured output returns the caller's fallback.
    """

    def __init__(
        self, reason: str = "no model is configured (llm.backend=none)", *, disabled: bool = False
    ) -> None:
        self.reason = reason
        self._error: type[LLMUnavailableError] = LLMDisabledError if disabled else LLMUnavailableError

    @property
    def available(self) -> bool:
        """Never: there is no model to ask."""
        return False

    @property
    def describe(self) -> str:
        """``none``."""
        return "none"

    async def chat(self, messages: Sequence[Message], **_: Any) -> ChatResult:
        """Raise the reason."""
        raise self._error(self.reason)

    async def stream(self, messages: Sequence[Message], **_: Any) -> AsyncIterator[str]:
        """Raise the reason."""
        raise self._error(self.reason)
        yield ""  # pragma: no cover - makes this an async generator

    async def structured(
        self, messages: Sequence[Message], schema: type[T], *, fallback: Fallback[T] = None, **_: Any
    ) -> Structured[T]:
        """The fallback, or the reason when there is none."""
        value = _resolve_fallback(fallback)
        if value is None:
            raise self._error(self.reason)
        return Structured(value, "fallback", 0, self.reason)

    async def choose(self, messages: Sequence[Message], choices: Sequence[str]) -> dict[str, float]:
        """Raise the reason."""
        raise self._error(self.reason)

    async def ping(self) -> str:
        """Raise the reason."""
        raise self._error(self.reason)

    async def aclose(self) -> None:
        """Nothing to close."""
