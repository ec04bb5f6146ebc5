"""The configured LLM backend's lifecycle: start the embedded server if needed, own the client."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from tools.llm.client import LLMClient, NullLLMClient, OpenAICompatibleClient
from tools.llm.config import LLMSettings
from tools.llm.embedded import EmbeddedServer, model_alias
from tools.llm.errors import LLMError

logger = logging.getLogger(__name__)


class LLMRuntime:
    """Builds :attr:`client` for the backend; a backend that fails to start leaves a client that says why.

    The service keeps running without its model (agents take their degraded paths) and
    ``/readyz`` reports the reason.
    """

    def __init__(self, settings: LLMSettings, model_dir: Path, log_dir: Path) -> None:
        self.settings = settings
        self.embedded: EmbeddedServer | None = None
        if settings.backend == "embedded":
            self.embedded = EmbeddedServer(settings, model_dir, log_dir)
        self.client: LLMClient = NullLLMClient("the model backend has not been started")
        self.start_error: str | None = None

    async def start(self) -> None:
        """Start the backend (the embedded server in a worker thread) and build the client."""
        if self.settings.backend == "none":
            self.client = NullLLMClient("no model is configured (llm.backend=none)", disabled=True)
            return
        if self.embedded is not None:
            try:
                base_url = await asyncio.to_thread(self.embedded.start)
            except LLMError as exc:
                self.start_error = str(exc)
                logger.error("embedded model did not start: %s", exc)
                self.client = NullLLMClient(f"the embedded model did not start: {exc}")
                return
            self.client = OpenAICompatibleClient(self.settings, base_url, model=model_alias(self.settings))
            return
        assert self.settings.base_url is not None  # enforced by LLMSettings
        self.client = OpenAICompatibleClient(self.settings, self.settings.base_url)

    async def stop(self) -> None:
        """Close the client and stop the embedded server."""
        await self.client.aclose()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
