"""One scripted fake model for every test and bench.

A :class:`Script` says what the model answers; two fakes answer from it: :class:`ScriptedLLM`, an
in-process :class:`~tools.llm.LLMClient`, and :class:`~eval.bench.fast_model.FakeOpenAI`, an
OpenAI-compatible server on loopback (for the real client, the service, the benches).

A script is a list of replies taken one a call in order, then (optionally) a function of the prompt
that answers every call after them. An entry is a :class:`Reply`, a string (the text), a dict or a
pydantic model (a JSON object, for structured output) or, in process only, an exception to raise.
Every call is recorded as a :class:`Call`: kind, messages, options, reply and token counts (one a
character of the prompt's and the reply's text).

A script that runs out, or a reply of the wrong kind for the call (tool calls to a stream or to a
call that offered no tools, a cut stream to a call that does not stream), fails clearly: in process
with :class:`ScriptError`, over HTTP with a 500 naming the problem; either way the reason is kept in
``script.failures`` and :meth:`Script.check` raises it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar

from pydantic import BaseModel

from tools.llm.client import Fallback, _parse_tool_calls, choice_probabilities, structured_by_chat
from tools.llm.errors import LLMError, LLMUnavailableError
from tools.llm.types import ChatResult, Message, Structured

if TYPE_CHECKING:
    from tools.llm.client import LLMClient

T = TypeVar("T", bound=BaseModel)
CallKind = Literal["chat", "stream", "structured"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer: text and/or tool calls, or an HTTP status; optionally late or cut short."""

    content: str = ""
    tool_calls: Sequence[tuple[str, str]] = ()  # (name, raw JSON arguments)
    status: int = 200
    delay_s: float = 0.0
    drop_after: int | None = None  # streaming: the connection is cut after this many chunks
    logprobs: Sequence[tuple[str, float]] = ()  # the first token's top (token, log-probability) pairs


Entry: TypeAlias = "Reply | str | dict[str, Any] | BaseModel | BaseException"
Responder: TypeAlias = "Callable[[list[Message]], Entry]"
ScriptLike: TypeAlias = "Script | Iterable[Entry] | Responder | None"


class ScriptError(AssertionError):
    """The script cannot answer this call: it ran out, or its reply does not fit the call."""


@dataclass(frozen=True)
class Call:
    """One call the model received and the reply it was given.

    ``reply`` is ``None`` when the script failed (``error`` says why) or raised a scripted exception.
    """

    index: int  # 1-based, in the order the calls arrived
    kind: CallKind
    messages: list[Message]
    options: dict[str, Any]
    reply: Reply | None
    prompt_tokens: int
    completion_tokens: int
    error: str = ""


def _text_of(messages: Sequence[Message]) -> str:
    """The messages' text (structured content as JSON), for the token count."""
    contents = [m.get("content") or "" for m in messages]
    return "".join(c if isinstance(c, str) else json.dumps(c, ensure_ascii=False) for c in contents)


def _as_reply(entry: Entry) -> Reply | BaseException:
    if isinstance(entry, Reply | BaseException):
        return entry
    if isinstance(entry, str):
        return Reply(entry)
    if isinstance(entry, BaseModel):
        return Reply(entry.model_dump_json())
    if isinstance(entry, dict):
        return Reply(json.dumps(entry, ensure_ascii=False))
    raise TypeError(f"a script entry is a Reply, str, dict, pydantic model or exception, not {entry!r}")


def _misfit(reply: Reply, kind: CallKind, options: dict[str, Any]) -> str:
    """Why ``reply`` cannot answer a call of this kind ('' when it can)."""
    if reply.tool_calls and kind != "chat":
        return f"has tool calls but the call is {kind!r} (tool calls answer chat only)"
    if reply.tool_calls and not options.get("tools"):
        return "has tool calls but the call offered no tools"
    if reply.drop_after is not None and kind != "stream":
        return f"cuts a stream but the call is {kind!r}"
    return ""


class Script:
    """Replies in order, then ``then(messages)`` if given; records every call. Safe across threads."""

    def __init__(self, replies: Iterable[Entry] | Responder = (), *, then: Responder | None = None) -> None:
        if isinstance(replies, str | bytes | dict | Reply | BaseModel | BaseException):
            raise TypeError(f"a script is a list of replies or a function, not one reply: [{replies!r}]")
        self._queue: deque[Entry] = deque() if callable(replies) else deque(replies)
        self.then = replies if callable(replies) else then
        self.calls: list[Call] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()

    @classmethod
    def of(cls, script: ScriptLike) -> Script:
        """``script`` itself, or a new script over the replies (or function) given."""
        return script if isinstance(script, Script) else cls(() if script is None else script)

    def append(self, entry: Entry) -> None:
        """Answer one more call with ``entry`` (after those already scripted)."""
        with self._lock:
            self._queue.append(entry)

    def extend(self, entries: Iterable[Entry]) -> None:
        """Answer the next calls with ``entries``, after those already scripted."""
        with self._lock:
            self._queue.extend(entries)

    def clear(self) -> None:
        """Forget the replies not yet given (the record stays)."""
        with self._lock:
            self._queue.clear()

    def __len__(self) -> int:
        """How many scripted replies are left (the ``then`` function not counted)."""
        return len(self._queue)

    @property
    def prompts(self) -> list[list[Message]]:
        """The messages of every call, in order."""
        return [c.messages for c in self.calls]

    def take(
        self, kind: CallKind, messages: Sequence[Message], options: dict[str, Any], *, raising: bool
    ) -> Call:
        """The next reply for this call, recorded; ``raising``: exception entries are raised (in process).

        Raises :class:`ScriptError` (kept in ``failures``) when the script has no reply that fits.
        """
        asked = [dict(m) for m in messages]
        with self._lock:
            index = len(self.calls) + 1
            reply, error = self._next(index, asked, kind, options, raising=raising)
            given = reply if isinstance(reply, Reply) else None
            text = (given.content + "".join(a for _, a in given.tool_calls)) if given else ""
            call = Call(index, kind, asked, dict(options), given, len(_text_of(asked)), len(text), error)
            self.calls.append(call)
            if error:
                self.failures.append(error)
        if error:
            raise ScriptError(error)
        if isinstance(reply, BaseException):
            raise reply
        return call

    def _next(
        self, index: int, messages: list[Message], kind: CallKind, options: dict[str, Any], *, raising: bool
    ) -> tuple[Reply | BaseException | None, str]:
        """The next reply and, when it cannot answer this call, why."""
        if self._queue:
            entry = self._queue.popleft()
        elif self.then is not None:
            entry = self.then(messages)
        else:
            return None, f"the script ran out: no reply for call #{index} ({kind})"
        try:
            reply = _as_reply(entry)
        except TypeError as exc:
            return None, f"reply #{index}: {exc}"
        if isinstance(reply, BaseException):
            return (
                reply,
                "" if raising else f"reply #{index} is an exception ({reply!r}): over HTTP, script a status",
            )
        misfit = _misfit(reply, kind, options)
        return reply, f"reply #{index} {misfit}" if misfit else ""

    def check(self) -> None:
        """Raise :class:`ScriptError` if a call failed or a scripted reply was never asked for."""
        if self.failures:
            raise ScriptError("; ".join(self.failures))
        if self._queue:
            raise ScriptError(
                f"{len(self._queue)} scripted repl{'y' if len(self._queue) == 1 else 'ies'} unused"
            )


def chunks(text: str, size: int) -> list[str]:
    """``text`` in pieces of ``size`` characters, as a stream delivers it."""
    return [text[i : i + size] for i in range(0, len(text), size)]


class ScriptedLLM:
    """An in-process :class:`~tools.llm.LLMClient` that answers from a :class:`Script`.

    ``structured`` runs the real client's validation, retry and fallback over the scripted replies
    (an invalid reply costs one reply, the retry the next). A status of 500 or more raises
    :class:`LLMUnavailableError`, any other non-200 :class:`LLMError`, as the real client does.
    Its signatures are the protocol's, checked by ``tests/eval/test_fakes.py``.
    """

    def __init__(self, script: ScriptLike = None, *, model: str = "fake", chunk_chars: int = 1) -> None:
        self.script = Script.of(script)
        self.model = model
        self.chunk_chars = chunk_chars
        self.closed = False

    @property
    def available(self) -> bool:
        """Always: there is a (scripted) model."""
        return True

    @property
    def describe(self) -> str:
        """``scripted:<model>``, for audit records."""
        return f"scripted:{self.model}"

    @property
    def prompts(self) -> list[list[Message]]:
        """The messages of every call, in order."""
        return self.script.prompts

    async def _answer(self, kind: CallKind, messages: Sequence[Message], options: dict[str, Any]) -> Call:
        if self.closed:
            raise ScriptError("the scripted model was asked after aclose()")
        call = self.script.take(kind, messages, options, raising=True)
        reply = call.reply
        assert reply is not None
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status >= 500:
            raise LLMUnavailableError(f"the scripted model did not answer: status {reply.status}")
        if reply.status != 200:
            raise LLMError(f"the model server refused the request ({reply.status}): scripted failure")
        return call

    def _result(self, call: Call) -> ChatResult:
        reply = call.reply
        assert reply is not None
        calls = [
            SimpleNamespace(id=f"call_{i}", function=SimpleNamespace(name=name, arguments=raw))
            for i, (name, raw) in enumerate(reply.tool_calls)
        ]
        return ChatResult(
            content=reply.content,
            tool_calls=_parse_tool_calls(SimpleNamespace(tool_calls=calls)),  # parsed as the real client does
            finish_reason="tool_calls" if calls else "stop",
            model=self.model,
            prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens,
        )

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatResult:
        """The next reply as a completion; its tool calls parsed."""
        options = {
            "tools": tools,
            "tool_choice": tool_choice,
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        return self._result(await self._answer("chat", messages, options))

    def stream(
        self, messages: Sequence[Message], *, temperature: float | None = None, max_tokens: int | None = None
    ) -> AsyncIterator[str]:
        """The next reply's text in ``chunk_chars`` pieces; a cut stream raises ``LLMUnavailableError``."""
        return self._stream(messages, {"temperature": temperature, "max_tokens": max_tokens})

    async def _stream(self, messages: Sequence[Message], options: dict[str, Any]) -> AsyncIterator[str]:
        reply = (await self._answer("stream", messages, options)).reply
        assert reply is not None
        for i, piece in enumerate(chunks(reply.content, self.chunk_chars)):
            if reply.drop_after is not None and i >= reply.drop_after:
                break
            yield piece
        if reply.drop_after is not None:
            raise LLMUnavailableError("the scripted model did not answer: the stream was cut")

    async def structured(
        self,
        messages: Sequence[Message],
        schema: type[T],
        *,
        fallback: Fallback[T] = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Structured[T]:
        """A value of ``schema`` from the next reply (or the one after), else ``fallback``."""

        async def ask(convo: list[Message], temperature: float, max_tokens: int | None) -> ChatResult:
            options = {"schema": schema.__name__, "temperature": temperature, "max_tokens": max_tokens}
            return self._result(await self._answer("structured", convo, options))

        return await structured_by_chat(
            ask, messages, schema, fallback=fallback, temperature=temperature, max_tokens=max_tokens
        )

    async def choose(self, messages: Sequence[Message], choices: Sequence[str]) -> dict[str, float]:
        """The next reply's first-token ``logprobs`` over the choices (none given: its text, certain)."""
        call = await self._answer("chat", messages, {"choices": list(choices), "max_tokens": 1})
        assert call.reply is not None
        return choice_probabilities(choices, call.reply.logprobs, call.reply.content)

    async def ping(self) -> str:
        """The model's name."""
        if self.closed:
            raise ScriptError("the scripted model was pinged after aclose()")
        return self.model

    async def aclose(self) -> None:
        """Refuse further calls."""
        self.closed = True


if TYPE_CHECKING:
    _CONFORMS: LLMClient = ScriptedLLM()  # mypy checks the fake against the protocol
