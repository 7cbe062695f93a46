"""ORM models of the outbox: the event log, webhook subscriptions and their deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime


class OutboxEvent(Base):
    """One event, written in the transaction of the state change it describes; fanned out after commit.

    The payload holds ids, states, codes and timestamps only — never a personal number or a name.
    """

    __tablename__ = "outbox_event"

    # The order of the outbox: per case, ids grow with the case's version (the case row serialises its writers).
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    event_type: Mapped[str] = mapped_column(String(40), index=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # Set once the worker has created the deliveries and effects of this event.
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)


class WebhookSubscription(Base):
    """A municipality's webhook endpoint; the signing secret is stored encrypted and shown once."""

    __tablename__ = "webhook_subscription"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # nonce ‖ AES-GCM(key derived from HUB_SECRET_KEY, secret, aad=subscription id)
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """One event to one subscription: attempts, the next retry, and a lease while a sender holds it."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (UniqueConstraint("subscription_id", "event_seq"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscription.id"), index=True)
    event_seq: Mapped[int] = mapped_column(ForeignKey("outbox_event.seq"), index=True)
    municipality_code: Mapped[str] = mapped_column(String(6), index=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    # pending → succeeded | dead; a dead letter goes back to pending only through redelivery.
    status: Mapped[str] = mapped_column(String(12), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    # Retries stop this long after retry_from_at (creation, or the last redelivery).
    retry_from_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    dead_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
