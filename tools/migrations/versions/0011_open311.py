"""Open311 GeoReport v2: client apps' API keys (digests only) and each request's Open311 details.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create open311_clients and open311_requests."""
    op.create_table(
        "open311_clients",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("key_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "open311_requests",
        sa.Column("ticket", sa.String(32), primary_key=True),
        sa.Column("token", sa.String(48), nullable=False, unique=True),
        sa.Column("service_code", sa.String(32), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("long", sa.Float, nullable=True),
        sa.Column("media_url", sa.String(500), nullable=True),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the Open311 tables."""
    op.drop_table("open311_requests")
    op.drop_table("open311_clients")
