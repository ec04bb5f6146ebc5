"""What every command shares: the settings (one line on a bad one), one-line errors, dates."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, TypeVar

import typer
from pydantic import ValidationError

from service.settings import Settings, load_settings
from tools.privacy import install_log_masking

if TYPE_CHECKING:
    from sqlalchemy import Engine

T = TypeVar("T")


def cli_settings() -> Settings:
    """The settings from the environment, with logging set up (an invalid setting: one line, exit 2)."""
    try:
        settings = load_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        fail(f"invalid setting {where}: {first['msg']}")
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic narrates every plugin and migration step at INFO: a command's own output would drown in it
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    install_log_masking()
    return settings


def fail(message: str, code: int = 2) -> typer.Exit:
    """One line ``error: …`` on stderr, then exit with ``code``.

    It never returns; the return type lets callers write ``raise fail(…)`` so the checker sees the exit.
    """
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def guarded(fn: Callable[[], T]) -> T:
    """Run ``fn``; turn the project's own errors into one line on stderr."""
    from knowledge.errors import KnowledgeError
    from tools.db import DatabaseError
    from tools.enterprises.dictionary import NoDictionaryError
    from tools.llm import LLMError

    try:
        return fn()
    except (LLMError, KnowledgeError, DatabaseError, NoDictionaryError, OSError, ValueError) as exc:
        raise fail(str(exc)) from exc


def migrated_database() -> Engine:
    """The configured database, its schema brought up to date (for commands that need nothing else)."""
    from service.container import open_database
    from tools.db import migrate

    engine = open_database(cli_settings())
    guarded(lambda: migrate(engine))
    return engine


def parse_date(value: str | None) -> date | None:
    """An option's YYYY-MM-DD (None stays None; anything else: one line, exit 2)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"not a date (YYYY-MM-DD): {value}") from None
