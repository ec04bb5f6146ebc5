"""``cityagent demo generate|load``: the demo city, a shipped city pack."""

from __future__ import annotations

import asyncio

import typer

from service.cli._common import cli_settings, guarded

demo_app = typer.Typer(help="The demo city: a shipped city pack.", no_args_is_help=True)


@demo_app.command("generate")
def demo_generate() -> None:
    """Regenerate the demo city's enterprise and work-order CSVs (seeded: same output every time)."""
    from service.demo_city.generate import generate

    for name, path in generate().items():
        typer.echo(f"{name}: {path}")


@demo_app.command("load")
def demo_load() -> None:
    """Load the demo city: `city load` of the shipped pack (service/demo_city/pack), plus demo staff."""
    from service.container import build_services
    from service.demo_city.loader import load_demo_city

    services = build_services(cli_settings())
    try:
        report = guarded(lambda: load_demo_city(services))
    finally:
        asyncio.run(services.close())
    typer.echo(report.summary())
