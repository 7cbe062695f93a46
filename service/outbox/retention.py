"""Retention of the outbox: finished webhook deliveries and dispatched events older than the setting are deleted.

Run by the retention job (`hub evidence purge`) beside evidence purging. Kept regardless of age:
- pending deliveries, and every event a remaining delivery refers to;
- events not yet dispatched (the worker still owes their deliveries and effects);
- `case.finalized` events: they are the back office's finalized-case feed (`/api/v1/integration/finalized-cases`)
  and hold ids, states and codes only, one per case.
The rows hold no personal data (ids, codes, timestamps); this bounds the tables, it is not a deletion of evidence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit import clock
from service.outbox.models import OutboxEvent, WebhookDelivery
from service.outbox.repository import DEAD, SUCCEEDED

# Read by the integrations' finalized-case feed; never purged here.
KEPT_EVENT_TYPES = ("case.finalized",)


@dataclass(frozen=True)
class OutboxPurge:
    """How many rows the purge deleted."""

    deliveries: int
    events: int


async def purge_finished(
    session: AsyncSession, *, older_than_days: int, now: dt.datetime | None = None
) -> OutboxPurge:
    """Delete succeeded/dead deliveries and dispatched events older than `older_than_days` (see the module doc)."""
    cutoff = (now or clock.now()) - dt.timedelta(days=older_than_days)
    deliveries = await session.execute(
        delete(WebhookDelivery).where(
            or_(
                and_(WebhookDelivery.status == SUCCEEDED, WebhookDelivery.delivered_at < cutoff),
                and_(WebhookDelivery.status == DEAD, WebhookDelivery.dead_at < cutoff),
            )
        )
    )
    referenced = exists(select(WebhookDelivery.id).where(WebhookDelivery.event_seq == OutboxEvent.seq))
    events = await session.execute(
        delete(OutboxEvent)
        .where(
            OutboxEvent.dispatched_at.is_not(None),
            OutboxEvent.dispatched_at < cutoff,
            OutboxEvent.occurred_at < cutoff,
            OutboxEvent.event_type.not_in(KEPT_EVENT_TYPES),
            ~referenced,
        )
        .execution_options(synchronize_session=False)
    )
    return OutboxPurge(deliveries=_count(deliveries), events=_count(events))


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
