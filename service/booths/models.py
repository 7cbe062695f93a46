"""ORM models of outreach booths: the schedule, the sessions on officers' laptops, the synced cases."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime


class Booth(Base):
    """A booth a supervisor scheduled: which office, which days; the host municipality's designation of it."""

    __tablename__ = "booth"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    post_office_id: Mapped[str] = mapped_column(ForeignKey("post_office.id"), index=True)
    designation_id: Mapped[str] = mapped_column(ForeignKey("designation.id"))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class BoothOfficer(Base):
    """An officer scheduled at a booth: only they may open its session and decide its cases."""

    __tablename__ = "booth_officer"

    booth_id: Mapped[str] = mapped_column(ForeignKey("booth.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"), primary_key=True)


class BoothSlot(Base):
    """An appointment slot; residents' bookings are a count, never a name (docs/booths.md §Schedule)."""

    __tablename__ = "booth_slot"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    booth_id: Mapped[str] = mapped_column(ForeignKey("booth.id"), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    starts_at: Mapped[str] = mapped_column(String(5))
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class BoothSession(Base):
    """A booth opened by one scheduled officer on one enrolled laptop; holds the laptop's data key, wrapped."""

    __tablename__ = "booth_session"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    booth_id: Mapped[str] = mapped_column(ForeignKey("booth.id"), index=True)
    officer_id: Mapped[str] = mapped_column(ForeignKey("account.id"))
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"), index=True)
    # The laptop's store key, wrapped with the hub's KEK (service/kit/envelope.py); handed out while not revoked.
    data_key_kek: Mapped[str] = mapped_column(String(40))
    data_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    data_key_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(String(20))


class BoothCase(Base):
    """One synced booth case and the answer given (replayed as is); codes only, no personal data."""

    __tablename__ = "booth_case"
    __table_args__ = (UniqueConstraint("session_id", "sequence"),)

    client_case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("booth_session.id"), index=True)
    booth_id: Mapped[str] = mapped_column(ForeignKey("booth.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    request_hash: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("counter_case.id"), unique=True)
    code: Mapped[str | None] = mapped_column(String(60))
    residence_municipality_code: Mapped[str] = mapped_column(String(6))
    hold: Mapped[str | None] = mapped_column(String(20), index=True)
    hold_reason: Mapped[str | None] = mapped_column(String(40))
    next_check_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    synced_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class BoothPending(Base):
    """A case the laptop announced before syncing it: listed for the municipality if the laptop is lost."""

    __tablename__ = "booth_pending"

    session_id: Mapped[str] = mapped_column(ForeignKey("booth_session.id"), primary_key=True)
    client_case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer)
    announced_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
