"""Alembic environment: run on the connection cityagent hands in (``tools.db.migrate``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, MetaData, create_engine

from knowledge.registry import metadata as knowledge_metadata
from tools.audit import metadata as audit_metadata
from tools.dispatch.history import metadata as dispatch_metadata
from tools.enterprises.dictionary import metadata as dictionary_metadata
from tools.enterprises.registry import metadata as enterprise_metadata
from tools.open311.keys import metadata as open311_key_metadata
from tools.open311.records import metadata as open311_request_metadata
from tools.subsidies.jobs import metadata as match_job_metadata
from tools.subsidies.store import metadata as subsidy_metadata
from tools.users import metadata as user_metadata
from tools.work_orders.contacts import metadata as contact_metadata
from tools.work_orders.store import metadata as work_order_metadata


def target_metadata() -> list[MetaData]:
    """Every package's tables (for ``alembic revision --autogenerate`` and the schema test)."""
    return [
        knowledge_metadata,
        enterprise_metadata,
        dictionary_metadata,
        dispatch_metadata,
        work_order_metadata,
        audit_metadata,
        user_metadata,
        subsidy_metadata,
        match_job_metadata,
        contact_metadata,
        open311_key_metadata,
        open311_request_metadata,
    ]


def run() -> None:
    """Run the migrations on the given connection, or on ``sqlalchemy.url``."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        engine = create_engine(
            context.config.get_main_option("sqlalchemy.url") or "sqlite:///var/cityagent.db"
        )
        with engine.begin() as conn:
            _migrate(conn)
        return
    _migrate(connection)


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata(), render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
