"""ORM model of the live link's per-call connection metrics (接続計測)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime


class ConnectionMetric(Base):
    """How one side of one call connected: milestones in ms from the offer, and the selected candidate pair.

    Timings and candidate types only: no address, no name, nothing about the person at the counter.
    """

    __tablename__ = "connection_metric"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), index=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    side: Mapped[str] = mapped_column(String(10))  # clerk | officer
    reporter_id: Mapped[str] = mapped_column(String(40))  # the device or account that reported it
    role: Mapped[str] = mapped_column(String(10))  # offerer | answerer
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    signaling_ms: Mapped[float | None] = mapped_column(Float)
    ice_ms: Mapped[float | None] = mapped_column(Float)
    dtls_ms: Mapped[float | None] = mapped_column(Float)
    first_frame_ms: Mapped[float | None] = mapped_column(Float)
    first_audio_ms: Mapped[float | None] = mapped_column(Float)
    local_candidate: Mapped[str | None] = mapped_column(String(10))
    remote_candidate: Mapped[str | None] = mapped_column(String(10))
    candidate_pair: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SignalingTicketUse(Base):
    """A signaling ticket already used to join, on any replica: a ticket admits once across the hub.

    Kept until the ticket would have expired anyway (30 s), then deleted by the next join.
    """

    __tablename__ = "signaling_ticket_use"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
