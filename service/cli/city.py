"""``cityagent city check|load|init``: a city pack checked, loaded, or started from a commented skeleton."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from service.cli._common import cli_settings, guarded

city_app = typer.Typer(
    help="City packs: one folder of a city's own facts (see the README).", no_args_is_help=True
)

PackDir = Annotated[Path, typer.Argument(help="The city pack's folder.")]


@city_app.command("check")
def city_check(directory: PackDir) -> None:
    """Validate every file of the pack; print every problem with file and line. Nothing is loaded."""
    from tools.citypack import check_pack

    pack, problems = check_pack(directory)
    if pack is None:
        for problem in problems:
            typer.echo(f"{directory / problem.file}:{problem.line}: {problem.message}" if problem.line
                       else f"{directory / problem.file}: {problem.message}", err=True)  # fmt: skip
        typer.secho(f"{len(problems)} problem(s); nothing loaded", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    documents = sum(1 for p in pack.documents_dir.rglob("*") if p.is_file())
    typer.echo(
        f"{pack.city.name}: ok ({documents} documents, {len(pack.gazetteer.districts)} districts, "
        f"{'past orders in ' + pack.orders.file if pack.orders else 'no past orders'}, "
        f"{len(pack.enterprise_files())} enterprise files, {len(pack.rule_files())} rules, "
        f"{len(pack.services.services) if pack.services else 0} Open311 services)"
    )


@city_app.command("load")
def city_load(directory: PackDir) -> None:
    """Load the pack (checked first; idempotent: a second run changes nothing and says so)."""
    from service.city_loader import load_city_pack
    from service.container import build_services

    services = build_services(cli_settings())
    try:  # a pack with problems is a ValueError: every problem printed, nothing loaded
        report = guarded(lambda: load_city_pack(services, directory))
    finally:
        asyncio.run(services.close())
    typer.echo(report.summary())


@city_app.command("init")
def city_init(
    directory: PackDir,
    name: Annotated[str, typer.Option(help="The city's name, e.g. 海滨市.")],
    ticket_prefix: Annotated[
        str, typer.Option(help="Ticket numbers start with it (capital letters).")
    ] = "GD",
) -> None:
    """Write a commented skeleton pack (it passes `city check`; fill it in, then `city load`)."""
    from tools.citypack import check_pack, write_skeleton

    try:
        written = write_skeleton(directory, name, ticket_prefix)
    except ValueError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    _, problems = check_pack(directory)
    for path in written:
        typer.echo(f"wrote {path}")
    if problems:
        for problem in problems:
            typer.echo(f"{directory / problem.file}: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"next: edit the files, then `cityagent city check {directory}` and `cityagent city load {directory}`"
    )
