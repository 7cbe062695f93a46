"""case reference: the 受付番号 people read (office-MMDD-sequence) and its per-office-per-day counter

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 20:30:00
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The hub's default time zone (service/config.py); a case's day is its Tokyo day (docs/domain.md §B4.1).
_TZ = ZoneInfo("Asia/Tokyo")


def _backfill(bind: sa.engine.Connection) -> None:
    """Give the cases made before this revision a reference in creation order, and the counters to go on from."""
    rows = bind.execute(
        sa.text(
            "SELECT c.id, c.post_office_id, c.created_at, p.office_code FROM counter_case c "
            "JOIN post_office p ON p.id = c.post_office_id ORDER BY c.created_at, c.id"
        )
    ).all()
    counters: dict[tuple[str, dt.date], int] = {}
    for case_id, office_id, created_at, office_code in rows:
        if isinstance(created_at, str):  # SQLite hands back text
            created_at = dt.datetime.fromisoformat(created_at)
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=dt.UTC)
        day = created_at.astimezone(_TZ).date()
        seq = counters.get((office_id, day), 0) + 1
        counters[(office_id, day)] = seq
        bind.execute(
            sa.text("UPDATE counter_case SET reference = :ref, reference_day = :day WHERE id = :id"),
            {"ref": f"{office_code}-{day:%m%d}-{seq:03d}", "day": day, "id": case_id},
        )
    for (office_id, day), seq in counters.items():
        bind.execute(
            sa.text(
                "INSERT INTO case_reference_counter (post_office_id, day, last_seq) VALUES (:office, :day, :seq)"
            ),
            {"office": office_id, "day": day, "seq": seq},
        )


def upgrade() -> None:
    op.create_table(
        "case_reference_counter",
        sa.Column("post_office_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_office_id"],
            ["post_office.id"],
            name=op.f("fk_case_reference_counter_post_office_id_post_office"),
        ),
        sa.PrimaryKeyConstraint("post_office_id", "day", name=op.f("pk_case_reference_counter")),
    )
    with op.batch_alter_table("counter_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("reference_day", sa.Date(), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table("counter_case", schema=None) as batch_op:
        batch_op.alter_column("reference", existing_type=sa.String(length=24), nullable=False)
        batch_op.alter_column("reference_day", existing_type=sa.Date(), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_counter_case_reference_day_reference"), ["reference_day", "reference"]
        )


def downgrade() -> None:
    with op.batch_alter_table("counter_case", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_counter_case_reference_day_reference"), type_="unique")
        batch_op.drop_column("reference_day")
        batch_op.drop_column("reference")
    op.drop_table("case_reference_counter")
