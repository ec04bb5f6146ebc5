"""What an Open311 request adds to its work order: service code, coordinates, media, attributes, token.

The order itself lives in the work-order store (same tickets, same loop, same masking); this
table keeps, per ticket, what GeoReport v2 has and a work order has not. Orders filed by phone
or chat have no row: their service is found from their category.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Float,
    MetaData,
    String,
    Table,
    Text,
    and_,
    insert,
    or_,
    select,
)

from tools.work_orders import WorkOrder
from tools.work_orders.store import _order, work_orders

metadata = MetaData()

open311_requests = Table(
    "open311_requests",
    metadata,
    Column("ticket", String(32), primary_key=True),
    Column("token", String(48), unique=True, nullable=False),
    Column("service_code", String(32), nullable=False),
    Column("client", String(64), nullable=False),
    Column("lat", Float, nullable=True),
    Column("long", Float, nullable=True),
    Column("media_url", String(500), nullable=True),
    Column("attributes", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

MAX_RESULTS = 1000  # GeoReport v2: a list returns no more than 1000 requests


@dataclass(frozen=True)
class Details:
    """The Open311 side of one request (attribute values masked as the order's texts are)."""

    service_code: str
    client: str
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)
    token: str = ""


def _details(row: Any) -> Details | None:
    if row.service_code_ is None:
        return None
    return Details(
        service_code=row.service_code_, client=row.client, lat=row.lat, long=row.long,
        media_url=row.media_url, attributes=json.loads(row.attributes), token=row.token,
    )  # fmt: skip


class Open311Records:
    """Keep and find the Open311 side of requests, with their orders."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def keep(self, ticket: str, details: Details, now: datetime | None = None) -> Details:
        """Record the details of a newly filed order (an idempotent replay keeps the first ones)."""
        with self._engine.begin() as conn:
            row = conn.execute(select(open311_requests).where(open311_requests.c.ticket == ticket)).first()
            if row is not None:
                return Details(
                    row.service_code, row.client, row.lat, row.long, row.media_url,
                    json.loads(row.attributes), row.token,
                )  # fmt: skip
            token = secrets.token_urlsafe(24)
            conn.execute(
                insert(open311_requests).values(
                    ticket=ticket, token=token, service_code=details.service_code, client=details.client,
                    lat=details.lat, long=details.long, media_url=details.media_url,
                    attributes=json.dumps(details.attributes, ensure_ascii=False),
                    created_at=now or datetime.now(UTC),
                )
            )  # fmt: skip
        return Details(**{**details.__dict__, "token": token})

    def ticket_for_token(self, token: str) -> str | None:
        """The ticket a token stands for."""
        query = select(open311_requests.c.ticket).where(open311_requests.c.token == token)
        with self._engine.connect() as conn:
            ticket = conn.execute(query).scalar()
        return str(ticket) if ticket is not None else None

    def find(
        self,
        *,
        tickets: Collection[str] | None = None,
        codes: Collection[str] | None = None,
        categories: Collection[str] = (),
        states: Collection[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = MAX_RESULTS,
    ) -> list[tuple[WorkOrder, Details | None]]:
        """Orders with their details, newest first.

        ``codes`` keeps requests filed with one of those service codes, and orders without a code
        whose category is in ``categories`` (the categories of those services).
        """
        r = open311_requests
        query = select(
            work_orders, r.c.service_code.label("service_code_"), r.c.client, r.c.lat, r.c.long,
            r.c.media_url, r.c.attributes, r.c.token,
        ).select_from(work_orders.outerjoin(r, r.c.ticket == work_orders.c.ticket))  # fmt: skip
        query = query.where(work_orders.c.ticket.is_not(None))
        if tickets is not None:
            query = query.where(work_orders.c.ticket.in_(list(tickets)))
        if codes is not None:
            query = query.where(
                or_(
                    r.c.service_code.in_(list(codes)),
                    and_(r.c.service_code.is_(None), work_orders.c.category.in_(list(categories))),
                )
            )
        if states is not None:
            query = query.where(work_orders.c.state.in_(list(states)))
        if start is not None:
            query = query.where(work_orders.c.created_at >= start)
        if end is not None:
            query = query.where(work_orders.c.created_at <= end)
        query = query.order_by(work_orders.c.created_at.desc(), work_orders.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(_order(row), _details(row)) for row in rows]
