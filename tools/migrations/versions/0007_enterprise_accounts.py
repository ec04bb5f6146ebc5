"""Enterprise accounts: a staff_users row may speak for one enterprise (its credit code).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add staff_users.enterprise."""
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("enterprise", sa.String(18), nullable=True))


def downgrade() -> None:
    """Drop staff_users.enterprise."""
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("enterprise")
