"""ORM models of certificate issuance at the post office.

A job holds codes, ids, digests and amounts only. The certificate itself (the signed PDF) and what it was made from
are kept sealed under the evidence KEK (service/kit/envelope.py) only until hand-over, expiry or voiding, when the
wrapped keys and ciphertexts are deleted (crypto-shredding). The verification register keeps issuer, time, kind and
the PDF's digest: what an anonymous checker may be told (docs/certificates.md §Verification).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime


class CertificateConfig(Base):
    """One version of a municipality's certificate configuration; the newest version is in force."""

    __tablename__ = "certificate_config"
    __table_args__ = (UniqueConstraint("municipality_code", "version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CertificateJob(Base):
    """A kiosk request from the card challenge to the hand-over (service/wire/certificates.py JobState)."""

    __tablename__ = "certificate_job"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    post_office_id: Mapped[str] = mapped_column(ForeignKey("post_office.id"), index=True)
    kiosk_device_id: Mapped[str] = mapped_column(String(40))
    # A counter request (docs/certificates.md §Counter requests): the case whose officer approves it; else None.
    case_id: Mapped[str | None] = mapped_column(ForeignKey("counter_case.id"), unique=True, index=True)
    kind: Mapped[str] = mapped_column(String(30))
    scope: Mapped[str | None] = mapped_column(String(20))
    options: Mapped[list[str]] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(Integer)
    fee_yen: Mapped[int] = mapped_column(Integer)
    config_version: Mapped[int] = mapped_column(Integer)
    # The card step: the nonce is cleared once used; its digest stays as one leg of the binding.
    origin: Mapped[str] = mapped_column(String(200))
    nonce: Mapped[str | None] = mapped_column(String(64))
    nonce_sha256: Mapped[str] = mapped_column(String(64))
    challenge_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(30), index=True)
    refusal_code: Mapped[str | None] = mapped_column(String(40))
    receipt_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    receipt_issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    clerk_device_id: Mapped[str | None] = mapped_column(String(40))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    printed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    fee_collected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    fee_paid_yen: Mapped[int] = mapped_column(Integer, default=0)
    handed_over_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    close_reason: Mapped[str | None] = mapped_column(String(40))
    reprints: Mapped[int] = mapped_column(Integer, default=0)
    # A refund is the municipality's step: requested (by the office) → refunded (by the municipality).
    refund_state: Mapped[str | None] = mapped_column(String(20))
    # What the certificate was made from (the record extract), sealed; needed for a reprint, shredded with the PDF.
    source_kek_id: Mapped[str | None] = mapped_column(String(40))
    source_wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    source_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CertificateDocument(Base):
    """One issued copy (the first print or a reprint): its verification entry and, until closed, its sealed PDF."""

    __tablename__ = "certificate_document"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("certificate_job.id"), index=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"))
    kind: Mapped[str] = mapped_column(String(30))
    issue_number: Mapped[str] = mapped_column(String(30), unique=True)
    verification_code: Mapped[str] = mapped_column(String(20), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    pages: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    # current | superseded (a reprint replaced it; the spoiled copy is void) | voided | expired
    status: Mapped[str] = mapped_column(String(20))
    status_reason: Mapped[str | None] = mapped_column(String(40))
    status_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    kek_id: Mapped[str | None] = mapped_column(String(40))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class CertificateFeeEntry(Base):
    """A line of the office's fee ledger: a fee taken (positive) or a refund paid (negative), in yen."""

    __tablename__ = "certificate_fee_entry"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("certificate_job.id"), index=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    post_office_id: Mapped[str] = mapped_column(ForeignKey("post_office.id"), index=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)  # the office's local day
    kind: Mapped[str] = mapped_column(String(30))
    count: Mapped[int] = mapped_column(Integer)
    amount_yen: Mapped[int] = mapped_column(Integer)
    entry: Mapped[str] = mapped_column(String(10))  # fee | refund
    recorded_by: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
