"""report indexes: state entries by time, so a month's report reads one month of a years-long history

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # docs/reports.md §Figures: every report selects the entries of one month (bench/reports.py measures it).
    op.create_index("ix_case_state_entry_entered_at", "case_state_entry", ["entered_at"])


def downgrade() -> None:
    op.drop_index("ix_case_state_entry_entered_at", table_name="case_state_entry")
