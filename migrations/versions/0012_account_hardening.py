"""account hardening: second-person activation, pending TOTP secrets, login sources, session families, notices

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-02 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_notice",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_account_notice_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_notice")),
    )
    with op.batch_alter_table("account_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_notice_account_id"), ["account_id"], unique=False)

    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_pending_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("trusted_sources", sa.JSON(), nullable=True))
        # Accounts that exist already were made before the rule: they stay active.
        batch_op.add_column(
            sa.Column("pending_activation", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("created_by", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("activated_by", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("family_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True))
    # A session from before families is its own family.
    op.execute(sa.text("UPDATE auth_session SET family_id = id"))
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.alter_column("family_id", existing_type=sa.String(length=40), nullable=False)
        batch_op.create_index(batch_op.f("ix_auth_session_family_id"), ["family_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_session_family_id"))
        batch_op.drop_column("rotated_at")
        batch_op.drop_column("family_id")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("activated_at")
        batch_op.drop_column("activated_by")
        batch_op.drop_column("created_by")
        batch_op.drop_column("pending_activation")
        batch_op.drop_column("trusted_sources")
        batch_op.drop_column("totp_pending_secret")
    with op.batch_alter_table("account_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_notice_account_id"))
    op.drop_table("account_notice")
