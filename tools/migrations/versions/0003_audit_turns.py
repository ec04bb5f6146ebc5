"""The audit trail of agent turns.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create audit_turns."""
    op.create_table(
        "audit_turns",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("thread", sa.String(96), nullable=False),
        sa.Column("agent", sa.String(32), nullable=False),
        sa.Column("route", sa.String(32), nullable=False),
        sa.Column("prompt_ids", sa.Text(), nullable=False),
        sa.Column("chunk_ids", sa.Text(), nullable=False),
        sa.Column("tool_calls", sa.Text(), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("model_ms", sa.Float(), nullable=False),
        sa.Column("user_text", sa.Text(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_audit_turns_thread", "audit_turns", ["thread"])


def downgrade() -> None:
    """Drop audit_turns."""
    op.drop_index("ix_audit_turns_thread", "audit_turns")
    op.drop_table("audit_turns")
