"""Call-back numbers waiting for their order: the one place a resident's raw number is kept before filing.

A resident gives a number in the chat ("确认，请回电 138…"). The conversation (messages, the report
draft, the checkpoint, the audit trail) keeps it masked; the raw number is held here, keyed by the
conversation, until the order is filed with it in ``contact_phone`` — then the row is deleted. A row
nobody filed is deleted when the conversation no longer needs it, and any row older than ``ttl``
whenever a number is held (a draft left waiting that long is filed without a call-back number).

It is a table in the service's database rather than process memory, so any worker may take the next
turn of a conversation, and rather than encrypted state, so the checkpoints (kept for months,
copied into backups) never hold the number in any form, and no key has to be kept and rotated.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, delete, select

from tools.db import upsert

metadata = MetaData()

pending_contacts = Table(
    "pending_contacts",
    metadata,
    Column("conversation", String(96), primary_key=True),
    Column("phone", String(32), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

TTL = timedelta(days=3)


def tail(phone: str) -> str:
    """The last four digits: what a masked number (``138****5678``) still shows of the raw one."""
    return re.sub(r"\D", "", phone)[-4:]


class PendingContacts:
    """Hold, read and drop the raw call-back number of a conversation."""

    def __init__(self, engine: Engine, *, ttl: timedelta = TTL) -> None:
        self._engine = engine
        self._ttl = ttl

    def hold(self, conversation: str, phone: str, now: datetime | None = None) -> None:
        """Keep ``phone`` for the conversation (replacing an earlier one); drop rows past the TTL."""
        now = now or datetime.now(UTC)
        row = {"conversation": conversation[:96], "phone": phone[:32], "updated_at": now}
        upsert(self._engine, pending_contacts, [row], "conversation")
        with self._engine.begin() as conn:
            conn.execute(delete(pending_contacts).where(pending_contacts.c.updated_at < now - self._ttl))

    def get(self, conversation: str, now: datetime | None = None) -> str | None:
        """The number held for the conversation, unless it is older than the TTL."""
        since = (now or datetime.now(UTC)) - self._ttl
        query = select(pending_contacts.c.phone).where(
            pending_contacts.c.conversation == conversation[:96], pending_contacts.c.updated_at >= since
        )
        with self._engine.connect() as conn:
            value = conn.execute(query).scalar()
        return str(value) if value is not None else None

    def clear(self, conversation: str) -> None:
        """Forget the conversation's number (filed, cancelled, or not asked for)."""
        with self._engine.begin() as conn:
            conn.execute(delete(pending_contacts).where(pending_contacts.c.conversation == conversation[:96]))
