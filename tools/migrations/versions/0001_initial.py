"""Initial schema: knowledge-base registry, enterprise registry, dispatch history.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ENTERPRISE_COLUMNS: list[tuple[str, Any, bool]] = [
    ("name", sa.String(200), False),
    ("industry_sector", sa.String(200), False),
    ("industry_code", sa.String(200), False),
    ("scale", sa.String(200), False),
    ("district", sa.String(200), False),
    ("founded", sa.Date(), False),
    ("employees", sa.Integer(), False),
    ("insured_employees", sa.Integer(), True),
    ("revenue_10k", sa.Float(), True),
    ("tax_10k", sa.Float(), True),
    ("rd_expense_10k", sa.Float(), True),
    ("high_tech", sa.Boolean(), True),
    ("high_tech_year", sa.Integer(), True),
    ("high_tech_kind", sa.String(200), True),
    ("srdi_level", sa.String(200), True),
    ("srdi_year", sa.Integer(), True),
    ("above_scale_industry", sa.Boolean(), True),
    ("above_scale_first_year", sa.Integer(), True),
    ("above_limit_trade", sa.Boolean(), True),
    ("above_limit_first_year", sa.Integer(), True),
    ("export_10k_usd", sa.Float(), True),
    ("layoffs_last_year", sa.Integer(), True),
    ("unemployment_premium_10k", sa.Float(), True),
    ("graduates_hired_last_year", sa.Integer(), True),
    ("green_factory_level", sa.String(200), True),
    ("green_factory_year", sa.Integer(), True),
    ("credit_rating", sa.String(200), True),
    ("dishonest", sa.Boolean(), True),
    ("tax_arrears", sa.Boolean(), True),
    ("unpaid_wages", sa.Boolean(), True),
    ("major_accident", sa.Boolean(), True),
]


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "kb_documents",
        sa.Column("doc_id", sa.String(32), primary_key=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "enterprises",
        sa.Column("credit_code", sa.String(18), primary_key=True),
        *[sa.Column(name, type_, nullable=nullable) for name, type_, nullable in _ENTERPRISE_COLUMNS],
    )
    op.create_table(
        "dispatch_history",
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
    )
    op.create_index("ix_dispatch_history_department", "dispatch_history", ["department"])


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_index("ix_dispatch_history_department", "dispatch_history")
    op.drop_table("dispatch_history")
    op.drop_table("enterprises")
    op.drop_table("kb_documents")
