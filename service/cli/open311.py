"""``cityagent open311 issue-key|keys|revoke-key``: the API keys of client apps filing Open311 requests.

Registered in :mod:`service.cli` as the ``open311`` group. An admin issues
one key per client app (the city portal, a residents' app); the key is printed once and only its
digest is stored, so a lost key is replaced by revoking it and issuing one under a new name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

open311_app = typer.Typer(
    help="Open311 GeoReport v2 (/open311/v2/): client apps' API keys.", no_args_is_help=True
)
T = TypeVar("T")

AppName = Annotated[str, typer.Argument(help="The client app's name, e.g. city-portal.")]


def _with_keys(fn: Callable[..., T]) -> T:
    """Run ``fn(ApiKeys)`` on the configured database (migrated first); errors become one line."""
    from pydantic import ValidationError

    from service.settings import load_settings
    from tools.db import DatabaseError, make_engine, migrate
    from tools.open311 import ApiKeys, Open311Error

    try:
        settings = load_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _fail(f"invalid setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc
    engine = make_engine(settings.database, settings.data_dir)
    try:
        migrate(engine)
        return fn(ApiKeys(engine))
    except (DatabaseError, Open311Error, ValueError) as exc:
        raise _fail(str(exc)) from exc
    finally:
        engine.dispose()


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(2)


@open311_app.command("issue-key")
def issue_key(name: AppName) -> None:
    """Issue the API key of a new client app (printed once: hand it to the app's operator)."""
    key = _with_keys(lambda keys: keys.issue(name))
    typer.echo(key)
    typer.echo(f"client {name}: keep this key now, it is not shown again", err=True)


@open311_app.command("keys")
def list_keys() -> None:
    """The client apps, with the first characters of their keys and whether they are revoked."""
    clients = _with_keys(lambda keys: keys.clients())
    if not clients:
        typer.echo("no client apps yet (cityagent open311 issue-key NAME)")
    for c in clients:
        state = "active" if c.active else f"revoked {c.revoked_at:%Y-%m-%d %H:%M}"
        typer.echo(f"{c.name}\t{c.key_prefix}…\tissued {c.created_at:%Y-%m-%d %H:%M}\t{state}")


@open311_app.command("revoke-key")
def revoke_key(name: AppName) -> None:
    """Stop accepting a client app's key (its requests keep its name)."""
    _with_keys(lambda keys: keys.revoke(name))
    typer.echo(f"client {name}: key revoked")
