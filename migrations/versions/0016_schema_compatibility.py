"""schema compatibility: which code revisions run on this schema, for rolling upgrades (expand/contract)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 00:10:00

Every migration from this one on records the oldest code revision that still runs on the schema it leaves
(docs/operations.md §Upgrades): its down_revision when it only expands (adds nullable columns, tables, indexes), or
itself when it contracts or changes meaning. A replica of older code asks this table about a database revision it
does not know, so old and new replicas serve side by side during a rolling upgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Expand only: a new table that code at 0013 never reads.
OLDEST_CODE_REVISION = "0015"


def upgrade() -> None:
    table = op.create_table(
        "schema_compatibility",
        sa.Column("revision", sa.String(length=32), nullable=False),
        sa.Column("oldest_code_revision", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_schema_compatibility")),
    )
    op.bulk_insert(table, [{"revision": revision, "oldest_code_revision": OLDEST_CODE_REVISION}])


def downgrade() -> None:
    op.drop_table("schema_compatibility")
