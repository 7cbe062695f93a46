"""Outbox, webhook subscriptions and deliveries, back-office hand-off, J-LIS, mail tracking, resident checks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 16:37:30.765942
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipality.code"],
            name=op.f("fk_webhook_subscription_municipality_code_municipality"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscription")),
    )
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_subscription_municipality_code"), ["municipality_code"], unique=False
        )

    op.create_table(
        "case_acknowledgement",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("back_office_ref", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["counter_case.id"], name=op.f("fk_case_acknowledgement_case_id_counter_case")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipality.code"],
            name=op.f("fk_case_acknowledgement_municipality_code_municipality"),
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_acknowledgement")),
    )
    with op.batch_alter_table("case_acknowledgement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_acknowledgement_municipality_code"), ["municipality_code"], unique=False
        )

    op.create_table(
        "jlis_submission",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("receipt_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=40), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("produced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["counter_case.id"], name=op.f("fk_jlis_submission_case_id_counter_case")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipality.code"],
            name=op.f("fk_jlis_submission_municipality_code_municipality"),
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_jlis_submission")),
    )
    with op.batch_alter_table("jlis_submission", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_jlis_submission_municipality_code"), ["municipality_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_jlis_submission_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_jlis_submission_status"), ["status"], unique=False)

    op.create_table(
        "mail_dispatch",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("mail_type", sa.String(length=30), nullable=False),
        sa.Column("tracking_number", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hold_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counter_notice", sa.String(length=30), nullable=True),
        sa.Column("counter_notice_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["counter_case.id"], name=op.f("fk_mail_dispatch_case_id_counter_case")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipality.code"],
            name=op.f("fk_mail_dispatch_municipality_code_municipality"),
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_mail_dispatch")),
        sa.UniqueConstraint("tracking_number", name=op.f("uq_mail_dispatch_tracking_number")),
    )
    with op.batch_alter_table("mail_dispatch", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mail_dispatch_municipality_code"), ["municipality_code"], unique=False
        )

    op.create_table(
        "outbox_event",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["counter_case.id"], name=op.f("fk_outbox_event_case_id_counter_case")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipality.code"],
            name=op.f("fk_outbox_event_municipality_code_municipality"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_event_id")),
    )
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_event_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_event_dispatched_at"), ["dispatched_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_event_event_type"), ["event_type"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_event_municipality_code"), ["municipality_code"], unique=False
        )

    op.create_table(
        "resident_check",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("officer_id", sa.String(length=40), nullable=False),
        sa.Column("record_found", sa.Boolean(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["counter_case.id"], name=op.f("fk_resident_check_case_id_counter_case")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["account.id"], name=op.f("fk_resident_check_officer_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_check")),
    )
    with op.batch_alter_table("resident_check", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resident_check_case_id"), ["case_id"], unique=False)

    op.create_table(
        "mail_tracking_event",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason_code", sa.String(length=30), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["mail_dispatch.case_id"], name=op.f("fk_mail_tracking_event_case_id_mail_dispatch")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_tracking_event")),
    )
    with op.batch_alter_table("mail_tracking_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_tracking_event_case_id"), ["case_id"], unique=False)

    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("event_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retry_from_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=40), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_seq"], ["outbox_event.seq"], name=op.f("fk_webhook_delivery_event_seq_outbox_event")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscription.id"],
            name=op.f("fk_webhook_delivery_subscription_id_webhook_subscription"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint(
            "subscription_id", "event_seq", name=op.f("uq_webhook_delivery_subscription_id_event_seq")
        ),
    )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_delivery_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_delivery_event_seq"), ["event_seq"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_webhook_delivery_municipality_code"), ["municipality_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_delivery_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_webhook_delivery_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_webhook_delivery_subscription_id"), ["subscription_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_status"))
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_municipality_code"))
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_event_seq"))
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_case_id"))

    op.drop_table("webhook_delivery")
    with op.batch_alter_table("mail_tracking_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_tracking_event_case_id"))

    op.drop_table("mail_tracking_event")
    with op.batch_alter_table("resident_check", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_check_case_id"))

    op.drop_table("resident_check")
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_event_municipality_code"))
        batch_op.drop_index(batch_op.f("ix_outbox_event_event_type"))
        batch_op.drop_index(batch_op.f("ix_outbox_event_dispatched_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_event_case_id"))

    op.drop_table("outbox_event")
    with op.batch_alter_table("mail_dispatch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_dispatch_municipality_code"))

    op.drop_table("mail_dispatch")
    with op.batch_alter_table("jlis_submission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jlis_submission_status"))
        batch_op.drop_index(batch_op.f("ix_jlis_submission_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_jlis_submission_municipality_code"))

    op.drop_table("jlis_submission")
    with op.batch_alter_table("case_acknowledgement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_acknowledgement_municipality_code"))

    op.drop_table("case_acknowledgement")
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_subscription_municipality_code"))

    op.drop_table("webhook_subscription")
