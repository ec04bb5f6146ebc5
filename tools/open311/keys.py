"""API keys of the client apps that may file Open311 service requests, stored as SHA-256 digests.

A key is 32 random bytes (``o311_`` and URL-safe base64), shown once when an admin issues it
(``cityagent open311 issue-key APP``); the database keeps its digest and its first characters (to tell
keys apart in a list). A random key of that length needs no slow password hash: the digest is looked
up directly. Revoking keeps the row, so an app's requests still name it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from tools.open311.errors import UnknownClientError

metadata = MetaData()

open311_clients = Table(
    "open311_clients",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), unique=True, nullable=False),
    Column("key_digest", String(64), unique=True, nullable=False),
    Column("key_prefix", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

PREFIX = "o311_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")


@dataclass(frozen=True)
class Client:
    """A client app (the key itself is never kept)."""

    name: str
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """Whether its key is still accepted."""
        return self.revoked_at is None


def digest(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeys:
    """Issue, check, list and revoke client apps' keys."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def issue(self, name: str, now: datetime | None = None) -> str:
        """A new key for a new client app; shown to the caller once, only its digest is stored."""
        if not _NAME.match(name):
            raise ValueError(f"{name!r}: a client name is 2-64 letters, digits, '.', '_' or '-'")
        key = PREFIX + secrets.token_urlsafe(32)
        row = {
            "name": name, "key_digest": digest(key), "key_prefix": key[: len(PREFIX) + 6],
            "created_at": now or datetime.now(UTC),
        }  # fmt: skip
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(open311_clients).values(**row))
        except IntegrityError as exc:
            raise ValueError(
                f"client {name!r} exists already (revoke it, then issue a key under a new name)"
            ) from exc
        return key

    def client_for(self, key: str) -> str | None:
        """The name of the active client app whose key this is, or None."""
        if not key.startswith(PREFIX) or len(key) > 100:
            return None
        query = select(open311_clients.c.name).where(
            open311_clients.c.key_digest == digest(key), open311_clients.c.revoked_at.is_(None)
        )
        with self._engine.connect() as conn:
            name = conn.execute(query).scalar()
        return str(name) if name is not None else None

    def revoke(self, name: str, now: datetime | None = None) -> None:
        """Stop accepting the app's key (idempotent for a revoked one)."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(open311_clients)
                .where(open311_clients.c.name == name, open311_clients.c.revoked_at.is_(None))
                .values(revoked_at=now or datetime.now(UTC))
            )
            if (
                result.rowcount == 0
                and conn.execute(select(open311_clients.c.id).where(open311_clients.c.name == name)).first()
                is None
            ):
                raise UnknownClientError(f"no client app named {name!r}")

    def clients(self) -> list[Client]:
        """Every client app, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(open311_clients).order_by(open311_clients.c.id)).all()
        return [
            Client(r.name, r.key_prefix, _utc(r.created_at), _utc(r.revoked_at) if r.revoked_at else None)
            for r in rows
        ]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
