"""What the LLM client returns: chat results, tool calls, validated structured values."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)
Message = dict[str, Any]
StructuredSource = Literal["model", "retry", "fallback"]


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asked for; ``error`` says why its arguments did not parse."""

    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    error: str | None = None


@dataclass(frozen=True)
class ChatResult:
    """One chat completion."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0


@dataclass(frozen=True)
class Structured(Generic[T]):
    """A validated model answer, or the caller's fallback with the reason the model's was refused.

    ``source`` is ``model`` (valid first time), ``retry`` (valid after the validation error was
    sent back once) or ``fallback``. ``raw`` keeps every raw answer for the audit record.
    """

    value: T
    source: StructuredSource
    attempts: int
    error: str | None = None
    raw: tuple[str, ...] = ()

    @property
    def from_model(self) -> bool:
        """True when the value came from the model rather than the fallback."""
        return self.source != "fallback"


def tool_spec(name: str, description: str, parameters: type[BaseModel]) -> dict[str, Any]:
    """An OpenAI ``tools`` entry whose parameters are a pydantic model's JSON schema."""
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters.model_json_schema()},
    }


def _without_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_titles(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
    if isinstance(node, list):
        return [_without_titles(v) for v in node]
    return node


def compact_schema(schema: type[BaseModel]) -> str:
    """The model's JSON schema without pydantic's ``title`` noise, Chinese unescaped, no spaces.

    Every prompt token costs ~20 ms on the embedded model; the grammar enforces the full
    schema anyway, so the prompt only needs the fields, types, enums and descriptions.
    """
    return json.dumps(_without_titles(schema.model_json_schema()), ensure_ascii=False, separators=(",", ":"))


def schema_instruction(schema: type[BaseModel]) -> str:
    """The Chinese instruction that asks for JSON matching ``schema``."""
    lead = "只输出一个 JSON 对象，不要输出任何其他文字。JSON 必须符合以下 JSON Schema："
    return f"{lead}\n{compact_schema(schema)}"
