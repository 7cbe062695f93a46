"""connection metrics of live calls

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 19:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connection_metric",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("reporter_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signaling_ms", sa.Float(), nullable=True),
        sa.Column("ice_ms", sa.Float(), nullable=True),
        sa.Column("dtls_ms", sa.Float(), nullable=True),
        sa.Column("first_frame_ms", sa.Float(), nullable=True),
        sa.Column("first_audio_ms", sa.Float(), nullable=True),
        sa.Column("local_candidate", sa.String(length=10), nullable=True),
        sa.Column("remote_candidate", sa.String(length=10), nullable=True),
        sa.Column("candidate_pair", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["counter_case.id"], name=op.f("fk_connection_metric_case_id_counter_case")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipality.code"],
            name=op.f("fk_connection_metric_municipality_code_municipality"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection_metric")),
    )
    with op.batch_alter_table("connection_metric", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_connection_metric_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_connection_metric_municipality_code"), ["municipality_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("connection_metric", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connection_metric_municipality_code"))
        batch_op.drop_index(batch_op.f("ix_connection_metric_case_id"))
    op.drop_table("connection_metric")
