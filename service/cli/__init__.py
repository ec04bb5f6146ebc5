"""``cityagent``: a thin CLI over the same services the API uses. Errors print as one line.

The whole command tree is assembled here, in the order ``--help`` lists it; each group lives in
its own module (the benchmarks and evaluation runs in :mod:`eval.commands`).
"""

from __future__ import annotations

import sys

import typer

from eval.commands.bench import bench_app
from eval.commands.runs import eval_app
from service.cli.audit import audit_app
from service.cli.city import city_app
from service.cli.demo import demo_app
from service.cli.dispatch import dispatch_app
from service.cli.knowledge import ingest, search
from service.cli.mcp import mcp
from service.cli.model import model_app
from service.cli.open311 import open311_app
from service.cli.server import config, serve
from service.cli.subsidy import subsidy_app
from service.cli.users import users_app

__all__ = ["app", "main"]

app = typer.Typer(help="cityagent: city-service agents (policy answers, work orders, subsidies, evaluation).",
                  no_args_is_help=True, pretty_exceptions_enable=False)  # fmt: skip
for command in (config, serve, ingest, search, mcp):
    app.command()(command)
for group, name in (
    (model_app, "model"), (demo_app, "demo"), (bench_app, "bench"), (dispatch_app, "dispatch"),
    (users_app, "users"), (subsidy_app, "subsidy"), (audit_app, "audit"), (eval_app, "eval"),
    (city_app, "city"), (open311_app, "open311"),
):  # fmt: skip
    app.add_typer(group, name=name)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
