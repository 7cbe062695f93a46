"""ORM models of cases."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime


class Case(Base):
    """One applicant's procedure at a designated post office. Holds ids and codes, no personal data."""

    __tablename__ = "counter_case"
    # The 受付番号 names the office and the day, not the year: with its Tokyo date it is unique (docs/domain.md §B4.1).
    __table_args__ = (UniqueConstraint("reference_day", "reference"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # What people read and say (受付番号, e.g. 12345-1202-007); the id stays in URLs and APIs (reference.py).
    reference: Mapped[str] = mapped_column(String(24))
    reference_day: Mapped[dt.date] = mapped_column(Date)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    post_office_id: Mapped[str] = mapped_column(ForeignKey("post_office.id"), index=True)
    designation_id: Mapped[str] = mapped_column(ForeignKey("designation.id"))
    procedure: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # 申請書ID (23 digits): the preferred key of an application — not the My Number (docs/domain.md §A2.15).
    shinseisho_id: Mapped[str | None] = mapped_column(String(23))
    # Set while the case is active, cleared when it ends: a plain unique index then forbids two active cases per 申請書ID.
    active_shinseisho_id: Mapped[str | None] = mapped_column(String(23), unique=True)
    created_by_device_id: Mapped[str] = mapped_column(ForeignKey("device.id"))
    officer_id: Mapped[str | None] = mapped_column(ForeignKey("account.id"), index=True)
    # Where the application was received: `counter` (the remote officer) or `booth` (出張申請受付, docs/booths.md).
    channel: Mapped[str] = mapped_column(String(20), default="counter", server_default="counter")
    precheck: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decision: Mapped[str | None] = mapped_column(String(40))
    reason_code: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    state_entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    # Optimistic concurrency: every UPDATE checks the version it read (two officers at once: one wins, one gets 409).
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CaseStateEntry(Base):
    """When the case entered each state, by which action and actor."""

    __tablename__ = "case_state_entry"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), index=True)
    state: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str] = mapped_column(String(40))
    reason_code: Mapped[str | None] = mapped_column(String(60))
    # Indexed for the reports, which read one month of entries at a time (docs/reports.md §Figures).
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class CaseReferenceCounter(Base):
    """The last 受付番号 sequence given at one post office on one Tokyo day (reference.py bumps it atomically)."""

    __tablename__ = "case_reference_counter"

    post_office_id: Mapped[str] = mapped_column(ForeignKey("post_office.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)
