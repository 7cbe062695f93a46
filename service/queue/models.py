"""ORM models of officer presence and case offers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime


class OfficerPresence(Base):
    """An officer's availability, kept alive by the console's heartbeat; a stale heartbeat counts as offline."""

    __tablename__ = "officer_presence"

    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # After a decision the officer gets wrap-up time before the next offer.
    wrapup_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # An offer left unanswered keeps the officer out of the rotation for a while.
    penalty_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CaseOffer(Base):
    """A queued case offered to one officer, chosen at random, until accepted, declined or expired."""

    __tablename__ = "case_offer"
    __table_args__ = (Index("ix_case_offer_officer_outcome", "officer_id", "outcome"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), index=True)
    officer_id: Mapped[str] = mapped_column(ForeignKey("account.id"))
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"))
    # pending, accepted, declined, conflict_of_interest, expired, withdrawn
    outcome: Mapped[str] = mapped_column(String(30))
    assigned_by: Mapped[str | None] = mapped_column(String(40))  # a supervisor's reassignment, else random
    offered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
