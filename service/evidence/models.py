"""ORM models of evidence, its encrypted blobs, card challenges and the card bound to a case."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime


class EvidenceItem(Base):
    """One piece of evidence for a case: what was checked and its result (codes only), and where its content is.

    Nobody can edit it: the agent adds items, the hub may only void them (card swap), never change them.
    """

    __tablename__ = "evidence_item"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    device_id: Mapped[str | None] = mapped_column(ForeignKey("device.id"))
    # Check names, statuses and reason codes; never an attribute of the person.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    ok: Mapped[bool] = mapped_column()
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class EvidenceBlob(Base):
    """Encrypted content of an evidence item (AES-256-GCM, data key wrapped by a KEK; bound to case and field)."""

    __tablename__ = "evidence_blob"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence_item.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    kek_id: Mapped[str] = mapped_column(String(40))
    # Emptied when the blob is purged: without its data key the ciphertext is unreadable (crypto-shredding).
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CardChallenge(Base):
    """A nonce the hub issued for one card-possession proof: single use, short-lived, bound to case and origin."""

    __tablename__ = "card_challenge"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), index=True)
    nonce: Mapped[str] = mapped_column(String(100), unique=True)
    origin: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CaseCardBinding(Base):
    """The card first read for a case (hashes only); a different card later voids the card evidence."""

    __tablename__ = "case_card_binding"

    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), primary_key=True)
    atr_sha256: Mapped[str] = mapped_column(String(64))
    certificate_sha256: Mapped[str] = mapped_column(String(64))
    card_face_sha256: Mapped[str | None] = mapped_column(String(64))
    bound_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    swap_detected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class LegalHold(Base):
    """A supervisor's hold on a flagged case (e.g. suspected impersonation): its evidence is not purged."""

    __tablename__ = "legal_hold"

    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), primary_key=True)
    reason_code: Mapped[str] = mapped_column(String(60))
    set_by: Mapped[str] = mapped_column(String(40))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
