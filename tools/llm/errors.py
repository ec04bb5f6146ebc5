"""Errors of the LLM runtime.

::

    LLMError                    anything that went wrong talking to a model
    ├── LLMUnavailableError     the backend cannot be reached (down, refused, timed out) -> 503
    │   ├── LLMDisabledError    backend "none": there is no model by configuration
    │   └── LLMBusyError        the model's queue is full, or a call waited too long in it
    ├── LLMOutputError          the model answered, but not in the form asked (after the retry)
    └── ModelAssetError         the embedded model file is missing, incomplete or fails its checksum
"""

from __future__ import annotations


class LLMError(Exception):
    """Base of every LLM runtime error."""


class LLMUnavailableError(LLMError):
    """The model backend could not be reached or did not answer in time."""


class LLMDisabledError(LLMUnavailableError):
    """The configured backend is ``none``."""


class LLMBusyError(LLMUnavailableError):
    """Too many calls are ahead: the queue is full, or the call waited ``queue_timeout_s`` in it."""


class LLMOutputError(LLMError):
    """The model's answer could not be turned into the requested structure."""

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw


class ModelAssetError(LLMError):
    """The GGUF file could not be assembled or verified."""
