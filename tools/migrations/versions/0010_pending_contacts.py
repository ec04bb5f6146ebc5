"""Call-back numbers waiting for their order (kept out of the conversation checkpoints).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create pending_contacts."""
    op.create_table(
        "pending_contacts",
        sa.Column("conversation", sa.String(96), primary_key=True),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop pending_contacts."""
    op.drop_table("pending_contacts")
