"""Enterprise facts follow the city's data dictionary: a JSON row per enterprise; the dictionary in force.

The fixed-column ``enterprises`` table (the first city's 30 fields) becomes ``enterprise_records``
(credit code, name, facts as JSON keyed by field name); its rows are copied across unchanged.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def upgrade() -> None:
    """Create enterprise_records and enterprise_dictionaries; move the rows of enterprises; drop it."""
    records = op.create_table(
        "enterprise_records",
        sa.Column("credit_code", sa.String(18), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "enterprise_dictionaries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    conn = op.get_bind()
    old = sa.Table("enterprises", sa.MetaData(), autoload_with=conn)
    now = datetime.now(UTC)
    rows = [
        {"credit_code": r["credit_code"], "name": r["name"], "updated_at": now,
         "facts": json.dumps({k: _plain(v) for k, v in r.items()}, ensure_ascii=False)}
        for r in conn.execute(sa.select(old)).mappings()
    ]  # fmt: skip
    if rows:
        conn.execute(sa.insert(records), rows)
    op.drop_table("enterprises")


def downgrade() -> None:
    """Not supported: a city's fields need not fit the old fixed columns."""
    raise NotImplementedError("0008 cannot be undone: restore a backup taken before the upgrade")
