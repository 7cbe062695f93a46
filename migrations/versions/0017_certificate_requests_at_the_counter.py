"""certificate requests at the counter: a certificate job may belong to a counter case

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 00:55:00

A resident without a card asks for a certificate at the counter; the clerk records it on a `certificate_request`
case and the officer's approval issues it as a print job for the office (docs/certificates.md §Counter requests).
The job names its case. Expand only: a new nullable column and its index, which code at 0016 never reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Expand only (docs/operations.md §Upgrades): code at 0016 still runs on this schema.
OLDEST_CODE_REVISION = "0016"

_compatibility = sa.table(
    "schema_compatibility", sa.column("revision", sa.String), sa.column("oldest_code_revision", sa.String)
)


def upgrade() -> None:
    with op.batch_alter_table("certificate_job") as batch:
        batch.add_column(sa.Column("case_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            op.f("fk_certificate_job_case_id_counter_case"), "counter_case", ["case_id"], ["id"]
        )
        batch.create_index(op.f("ix_certificate_job_case_id"), ["case_id"], unique=True)
    op.bulk_insert(_compatibility, [{"revision": revision, "oldest_code_revision": OLDEST_CODE_REVISION}])


def downgrade() -> None:
    op.execute(_compatibility.delete().where(_compatibility.c.revision == revision))
    with op.batch_alter_table("certificate_job") as batch:
        batch.drop_index(op.f("ix_certificate_job_case_id"))
        batch.drop_constraint(op.f("fk_certificate_job_case_id_counter_case"), type_="foreignkey")
        batch.drop_column("case_id")
