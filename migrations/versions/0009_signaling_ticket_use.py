"""signaling tickets admit once across replicas

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signaling_ticket_use",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_signaling_ticket_use")),
    )
    op.create_index(
        op.f("ix_signaling_ticket_use_expires_at"), "signaling_ticket_use", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_signaling_ticket_use_expires_at"), table_name="signaling_ticket_use")
    op.drop_table("signaling_ticket_use")
