"""ORM models of the back-office hand-off, J-LIS submissions, mailed cards and resident-record check results."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime


class CaseAcknowledgement(Base):
    """The back office took over a finalized case (its own reference, when it gave one)."""

    __tablename__ = "case_acknowledgement"

    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    client_id: Mapped[str] = mapped_column(String(40))
    back_office_ref: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class JlisSubmission(Base):
    """The application's hand-over to J-LIS (地方公共団体情報システム機構) and the card's production status."""

    __tablename__ = "jlis_submission"

    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    # pending (to submit) → accepted (in production) → produced | failed; `abandoned` when the case left the path.
    status: Mapped[str] = mapped_column(String(12), index=True)
    # adapter: the hub submitted it; back_office: the municipality reported it through the API.
    source: Mapped[str] = mapped_column(String(12))
    receipt_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    produced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class MailDispatch(Base):
    """The card's mailing by 本人限定受取郵便 (特例型): tracking number, the 10-day hold, and the counter notice."""

    __tablename__ = "mail_dispatch"

    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    mail_type: Mapped[str] = mapped_column(String(30))
    tracking_number: Mapped[str] = mapped_column(String(20), unique=True)
    # dispatched → in_transit → held → delivered | returned; cancelled by an address change before delivery.
    status: Mapped[str] = mapped_column(String(12))
    dispatched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    hold_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    hold_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # pickup_at_counter (returned mail) or address_change_referral; the applicant is told to come to the counter.
    counter_notice: Mapped[str | None] = mapped_column(String(30))
    counter_notice_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class MailTrackingEvent(Base):
    """One tracking update of a mailed card, as the back office reported it."""

    __tablename__ = "mail_tracking_event"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    case_id: Mapped[str] = mapped_column(ForeignKey("mail_dispatch.case_id"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    reason_code: Mapped[str | None] = mapped_column(String(30))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ResidentCheck(Base):
    """The outcome of an officer's 住民基本台帳 lookup: match or mismatch per attribute, never the record itself."""

    __tablename__ = "resident_check"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), index=True)
    officer_id: Mapped[str] = mapped_column(ForeignKey("account.id"))
    record_found: Mapped[bool] = mapped_column()
    # {"name": "match", "birth_date": "mismatch", ...} — codes only (docs/domain.md §B4).
    results: Mapped[dict[str, str]] = mapped_column(JSON)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
