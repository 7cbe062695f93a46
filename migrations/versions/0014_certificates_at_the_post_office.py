"""certificates at the post office: per-municipality configuration, kiosk jobs, issued copies, the fee ledger

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 23:35:21.466779
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "certificate_config",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipality.code"],
            name=op.f("fk_certificate_config_municipality_code_municipality"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_config")),
        sa.UniqueConstraint(
            "municipality_code", "version", name=op.f("uq_certificate_config_municipality_code_version")
        ),
    )
    with op.batch_alter_table("certificate_config", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificate_config_municipality_code"), ["municipality_code"], unique=False
        )

    op.create_table(
        "certificate_job",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("post_office_id", sa.String(length=40), nullable=False),
        sa.Column("kiosk_device_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("fee_yen", sa.Integer(), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=True),
        sa.Column("nonce_sha256", sa.String(length=64), nullable=False),
        sa.Column("challenge_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("refusal_code", sa.String(length=40), nullable=True),
        sa.Column("receipt_number", sa.String(length=20), nullable=True),
        sa.Column("receipt_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clerk_device_id", sa.String(length=40), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("printed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fee_collected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fee_paid_yen", sa.Integer(), nullable=False),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=40), nullable=True),
        sa.Column("reprints", sa.Integer(), nullable=False),
        sa.Column("refund_state", sa.String(length=20), nullable=True),
        sa.Column("source_kek_id", sa.String(length=40), nullable=True),
        sa.Column("source_wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("source_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipality.code"],
            name=op.f("fk_certificate_job_municipality_code_municipality"),
        ),
        sa.ForeignKeyConstraint(
            ["post_office_id"], ["post_office.id"], name=op.f("fk_certificate_job_post_office_id_post_office")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_job")),
        sa.UniqueConstraint("receipt_number", name=op.f("uq_certificate_job_receipt_number")),
    )
    with op.batch_alter_table("certificate_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificate_job_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_certificate_job_municipality_code"), ["municipality_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_certificate_job_post_office_id"), ["post_office_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_certificate_job_state"), ["state"], unique=False)

    op.create_table(
        "certificate_document",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("issue_number", sa.String(length=30), nullable=False),
        sa.Column("verification_code", sa.String(length=20), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.String(length=40), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kek_id", sa.String(length=40), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["certificate_job.id"], name=op.f("fk_certificate_document_job_id_certificate_job")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipality.code"],
            name=op.f("fk_certificate_document_municipality_code_municipality"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_document")),
        sa.UniqueConstraint("issue_number", name=op.f("uq_certificate_document_issue_number")),
        sa.UniqueConstraint("verification_code", name=op.f("uq_certificate_document_verification_code")),
    )
    with op.batch_alter_table("certificate_document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificate_document_content_sha256"), ["content_sha256"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_certificate_document_job_id"), ["job_id"], unique=False)

    op.create_table(
        "certificate_fee_entry",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("post_office_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("amount_yen", sa.Integer(), nullable=False),
        sa.Column("entry", sa.String(length=10), nullable=False),
        sa.Column("recorded_by", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["certificate_job.id"], name=op.f("fk_certificate_fee_entry_job_id_certificate_job")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipality.code"],
            name=op.f("fk_certificate_fee_entry_municipality_code_municipality"),
        ),
        sa.ForeignKeyConstraint(
            ["post_office_id"],
            ["post_office.id"],
            name=op.f("fk_certificate_fee_entry_post_office_id_post_office"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_fee_entry")),
    )
    with op.batch_alter_table("certificate_fee_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificate_fee_entry_day"), ["day"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificate_fee_entry_job_id"), ["job_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_certificate_fee_entry_municipality_code"), ["municipality_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_certificate_fee_entry_post_office_id"), ["post_office_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("certificate_fee_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_fee_entry_post_office_id"))
        batch_op.drop_index(batch_op.f("ix_certificate_fee_entry_municipality_code"))
        batch_op.drop_index(batch_op.f("ix_certificate_fee_entry_job_id"))
        batch_op.drop_index(batch_op.f("ix_certificate_fee_entry_day"))

    op.drop_table("certificate_fee_entry")
    with op.batch_alter_table("certificate_document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_document_job_id"))
        batch_op.drop_index(batch_op.f("ix_certificate_document_content_sha256"))

    op.drop_table("certificate_document")
    with op.batch_alter_table("certificate_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_job_state"))
        batch_op.drop_index(batch_op.f("ix_certificate_job_post_office_id"))
        batch_op.drop_index(batch_op.f("ix_certificate_job_municipality_code"))
        batch_op.drop_index(batch_op.f("ix_certificate_job_expires_at"))

    op.drop_table("certificate_job")
    with op.batch_alter_table("certificate_config", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_config_municipality_code"))

    op.drop_table("certificate_config")
