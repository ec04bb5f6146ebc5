"""``cityagent config`` and ``cityagent serve``: the settings in effect, and the HTTP service."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from service.cli._common import cli_settings, fail, guarded


def config() -> None:
    """Print the effective settings (secrets hidden)."""
    typer.echo(json.dumps(cli_settings().redacted(), ensure_ascii=False, indent=2))


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default: server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: server.port).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API worker processes on one port; more than one needs PostgreSQL, a Qdrant server and "
            "a shared model server (see the README's scale-out guide).",
        ),
    ] = 1,
) -> None:
    """Start the HTTP service (and the embedded model when llm.backend=embedded)."""
    import uvicorn

    from service.app import create_app
    from service.secret_key import bind_problem, signing_secret

    settings = cli_settings()
    host = host or settings.server.host
    if problem := bind_problem(host, settings):
        raise fail(problem)
    guarded(lambda: signing_secret(settings))  # a refused key file: one line now, not a worker's traceback
    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1; the app decides
    # (server.trusted_proxies, service.client_address)
    if workers > 1:
        problems = settings.scale_out_problems()
        if problems:
            raise fail("several workers need shared services:\n  " + "\n  ".join(problems))
        uvicorn.run(  # each worker builds its app from the same environment
            "service.app:create_app", factory=True, workers=workers, host=host,
            port=port or settings.server.port, log_level=settings.log_level.lower(), proxy_headers=False,
        )  # fmt: skip
        return
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port or settings.server.port,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
    )
