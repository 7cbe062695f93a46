"""outreach booths: schedules, booth sessions, synced booth cases; the case's channel

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 06:30:00

出張申請受付 (docs/booths.md): a supervisor schedules a booth (office, days, officers, slots counted, never named);
an officer opens a booth session on an enrolled laptop, which records cases offline and syncs each once. A case
now says where it was received (`channel`: counter or booth) for the reports. Expand only: new tables and a
column with a server default, which code at 0017 never reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Expand only (docs/operations.md §Upgrades): code at 0017 still runs on this schema.
OLDEST_CODE_REVISION = "0017"

_compatibility = sa.table(
    "schema_compatibility", sa.column("revision", sa.String), sa.column("oldest_code_revision", sa.String)
)


def upgrade() -> None:
    with op.batch_alter_table("counter_case") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=20), server_default="counter", nullable=False))
    op.create_table(
        "booth",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("post_office_id", sa.String(length=40), nullable=False),
        sa.Column("designation_id", sa.String(length=40), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["designation_id"], ["designation.id"], name=op.f("fk_booth_designation_id_designation")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_code"], ["municipality.code"], name=op.f("fk_booth_municipality_code_municipality")
        ),
        sa.ForeignKeyConstraint(
            ["post_office_id"], ["post_office.id"], name=op.f("fk_booth_post_office_id_post_office")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booth")),
    )
    op.create_index(op.f("ix_booth_municipality_code"), "booth", ["municipality_code"])
    op.create_index(op.f("ix_booth_post_office_id"), "booth", ["post_office_id"])
    op.create_table(
        "booth_officer",
        sa.Column("booth_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_booth_officer_account_id_account")
        ),
        sa.ForeignKeyConstraint(["booth_id"], ["booth.id"], name=op.f("fk_booth_officer_booth_id_booth")),
        sa.PrimaryKeyConstraint("booth_id", "account_id", name=op.f("pk_booth_officer")),
    )
    op.create_table(
        "booth_slot",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("booth_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.String(length=5), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["booth_id"], ["booth.id"], name=op.f("fk_booth_slot_booth_id_booth")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booth_slot")),
    )
    op.create_index(op.f("ix_booth_slot_booth_id"), "booth_slot", ["booth_id"])
    op.create_table(
        "booth_session",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("booth_id", sa.String(length=40), nullable=False),
        sa.Column("officer_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=40), nullable=False),
        sa.Column("data_key_kek", sa.String(length=40), nullable=False),
        sa.Column("data_key_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("data_key_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["booth_id"], ["booth.id"], name=op.f("fk_booth_session_booth_id_booth")),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], name=op.f("fk_booth_session_device_id_device")),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["account.id"], name=op.f("fk_booth_session_officer_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booth_session")),
    )
    op.create_index(op.f("ix_booth_session_booth_id"), "booth_session", ["booth_id"])
    op.create_index(op.f("ix_booth_session_device_id"), "booth_session", ["device_id"])
    op.create_table(
        "booth_case",
        sa.Column("client_case_id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("booth_id", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("code", sa.String(length=60), nullable=True),
        sa.Column("residence_municipality_code", sa.String(length=6), nullable=False),
        sa.Column("hold", sa.String(length=20), nullable=True),
        sa.Column("hold_reason", sa.String(length=40), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["booth_id"], ["booth.id"], name=op.f("fk_booth_case_booth_id_booth")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["counter_case.id"], name=op.f("fk_booth_case_case_id_counter_case")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["booth_session.id"], name=op.f("fk_booth_case_session_id_booth_session")
        ),
        sa.PrimaryKeyConstraint("client_case_id", name=op.f("pk_booth_case")),
        sa.UniqueConstraint("case_id", name=op.f("uq_booth_case_case_id")),
        sa.UniqueConstraint("session_id", "sequence", name=op.f("uq_booth_case_session_id_sequence")),
    )
    op.create_index(op.f("ix_booth_case_booth_id"), "booth_case", ["booth_id"])
    op.create_index(op.f("ix_booth_case_hold"), "booth_case", ["hold"])
    op.create_index(op.f("ix_booth_case_session_id"), "booth_case", ["session_id"])
    op.create_table(
        "booth_pending",
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("client_case_id", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["booth_session.id"], name=op.f("fk_booth_pending_session_id_booth_session")
        ),
        sa.PrimaryKeyConstraint("session_id", "client_case_id", name=op.f("pk_booth_pending")),
    )
    op.bulk_insert(_compatibility, [{"revision": revision, "oldest_code_revision": OLDEST_CODE_REVISION}])


def downgrade() -> None:
    op.execute(_compatibility.delete().where(_compatibility.c.revision == revision))
    op.drop_table("booth_pending")
    op.drop_index(op.f("ix_booth_case_session_id"), table_name="booth_case")
    op.drop_index(op.f("ix_booth_case_hold"), table_name="booth_case")
    op.drop_index(op.f("ix_booth_case_booth_id"), table_name="booth_case")
    op.drop_table("booth_case")
    op.drop_index(op.f("ix_booth_session_device_id"), table_name="booth_session")
    op.drop_index(op.f("ix_booth_session_booth_id"), table_name="booth_session")
    op.drop_table("booth_session")
    op.drop_index(op.f("ix_booth_slot_booth_id"), table_name="booth_slot")
    op.drop_table("booth_slot")
    op.drop_table("booth_officer")
    op.drop_index(op.f("ix_booth_post_office_id"), table_name="booth")
    op.drop_index(op.f("ix_booth_municipality_code"), table_name="booth")
    op.drop_table("booth")
    with op.batch_alter_table("counter_case") as batch:
        batch.drop_column("channel")
