"""The LLM runtime: one OpenAI-compatible client over vLLM, the embedded llama.cpp server, or none.

Agents use :class:`LLMClient` (chat, streaming, tool calls, validated structured output);
the service owns an :class:`LLMRuntime` that starts and stops the backend.
"""

from tools.llm.client import LLMClient, NullLLMClient, OpenAICompatibleClient
from tools.llm.config import LLMSettings
from tools.llm.errors import (
    LLMBusyError,
    LLMDisabledError,
    LLMError,
    LLMOutputError,
    LLMUnavailableError,
    ModelAssetError,
)
from tools.llm.runtime import LLMRuntime
from tools.llm.types import ChatResult, Message, Structured, ToolCall, tool_spec

__all__ = [
    "ChatResult",
    "LLMBusyError",
    "LLMClient",
    "LLMDisabledError",
    "LLMError",
    "LLMOutputError",
    "LLMRuntime",
    "LLMSettings",
    "LLMUnavailableError",
    "Message",
    "ModelAssetError",
    "NullLLMClient",
    "OpenAICompatibleClient",
    "Structured",
    "ToolCall",
    "tool_spec",
]
