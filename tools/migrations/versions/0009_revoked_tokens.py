"""Staff tokens signed out before they expire.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create staff_revoked_tokens."""
    op.create_table(
        "staff_revoked_tokens",
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("expires", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_staff_revoked_tokens_expires", "staff_revoked_tokens", ["expires"])


def downgrade() -> None:
    """Drop staff_revoked_tokens."""
    op.drop_index("ix_staff_revoked_tokens_expires", "staff_revoked_tokens")
    op.drop_table("staff_revoked_tokens")
