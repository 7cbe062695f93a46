"""card administration jobs: remote card management by the issuer through the counter

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 06:30:00

A case's remote card management (e-certificate renewal, PIN reset under the issuer's authorisation) records its
progress and what the card holds, so a retry continues from there (docs/card-admin.md). Expand only: a new table
that code at 0017 never reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Expand only (docs/operations.md §Upgrades): code at 0017 still runs on this schema.
OLDEST_CODE_REVISION = "0017"

_compatibility = sa.table(
    "schema_compatibility", sa.column("revision", sa.String), sa.column("oldest_code_revision", sa.String)
)


def upgrade() -> None:
    op.create_table(
        "card_admin_job",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("post_office_id", sa.String(length=40), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("pin", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("card_state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=48), nullable=True),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("refusals", sa.Integer(), nullable=False),
        sa.Column("new_digests", sa.JSON(), nullable=False),
        sa.Column("serials_kek_id", sa.String(length=40), nullable=True),
        sa.Column("serials_wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("serials_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("revoked", sa.Integer(), nullable=False),
        sa.Column("pin_changes", sa.Integer(), nullable=True),
        sa.Column("channel_kek_id", sa.String(length=40), nullable=True),
        sa.Column("channel_wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("channel_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["counter_case.id"], name=op.f("fk_card_admin_job_case_id_counter_case")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipality.code"],
            name=op.f("fk_card_admin_job_municipality_code_municipality"),
        ),
        sa.ForeignKeyConstraint(
            ["post_office_id"], ["post_office.id"], name=op.f("fk_card_admin_job_post_office_id_post_office")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_card_admin_job")),
    )
    op.create_index(
        op.f("ix_card_admin_job_municipality_code"), "card_admin_job", ["municipality_code"], unique=False
    )
    op.bulk_insert(_compatibility, [{"revision": revision, "oldest_code_revision": OLDEST_CODE_REVISION}])


def downgrade() -> None:
    op.execute(_compatibility.delete().where(_compatibility.c.revision == revision))
    op.drop_index(op.f("ix_card_admin_job_municipality_code"), table_name="card_admin_job")
    op.drop_table("card_admin_job")
