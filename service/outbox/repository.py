"""Queries of the outbox: claiming events and deliveries (SKIP LOCKED on PostgreSQL, leases everywhere)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Mapping, Sequence

from sqlalchemy import Integer, Update, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from service.outbox.models import OutboxEvent, WebhookDelivery, WebhookSubscription

PENDING = "pending"
SUCCEEDED = "succeeded"
DEAD = "dead"


async def claim_undispatched(session: AsyncSession, *, limit: int, at: dt.datetime) -> list[OutboxEvent]:
    """The oldest events not yet fanned out, marked dispatched `at` in this transaction and returned in order.

    One UPDATE … RETURNING selects (skipping rows another hub process holds), locks and marks: a round trip less
    between an event's commit and its request than a SELECT … FOR UPDATE followed by an UPDATE (#18). Until this
    transaction commits, other processes still see the events undispatched, so they hold back later deliveries of
    the same case. SQLite renders no FOR UPDATE: there the transaction began with BEGIN IMMEDIATE and holds the
    write lock.
    """
    oldest = (
        select(OutboxEvent.seq)
        .where(OutboxEvent.dispatched_at.is_(None))
        .order_by(OutboxEvent.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    marked = await session.scalars(
        update(OutboxEvent)
        .where(OutboxEvent.seq.in_(oldest.scalar_subquery()))
        .values(dispatched_at=at)
        .returning(OutboxEvent)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return sorted(marked.all(), key=lambda event: event.seq)


async def active_subscriptions(
    session: AsyncSession, municipality_codes: Collection[str]
) -> Sequence[WebhookSubscription]:
    query = select(WebhookSubscription).where(
        WebhookSubscription.municipality_code.in_(municipality_codes), WebhookSubscription.active.is_(True)
    )
    return (await session.execute(query)).scalars().all()


@functools.cache
def _claim_statement() -> Update:
    """The lease statement, built once: building its correlated subqueries and alias per pass cost about 3 ms of
    CPU between an event's commit and its request, more than the database took to run it (#18). Its values are
    bound per execution (`now`, `limit`, `owner`, `lease_until`)."""
    now = bindparam("now", type_=WebhookDelivery.next_attempt_at.type)
    earlier = aliased(WebhookDelivery, name="earlier_delivery")
    # In order per case: an earlier event of the same case to the same subscription that has not succeeded
    # (pending, in flight, or dead) holds the later ones back.
    earlier_open = (
        select(earlier.id)
        .where(
            earlier.subscription_id == WebhookDelivery.subscription_id,
            earlier.case_id == WebhookDelivery.case_id,
            earlier.event_seq < WebhookDelivery.event_seq,
            earlier.status != SUCCEEDED,
        )
        .exists()
    )
    # Another hub process may still be fanning out an earlier event of this case (not yet committed).
    undispatched_earlier = (
        select(OutboxEvent.seq)
        .where(
            OutboxEvent.case_id == WebhookDelivery.case_id,
            OutboxEvent.seq < WebhookDelivery.event_seq,
            OutboxEvent.dispatched_at.is_(None),
        )
        .exists()
    )
    ids_query = (
        select(WebhookDelivery.id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
            WebhookSubscription.active.is_(True),
            ~earlier_open,
            ~undispatched_earlier,
        )
        .order_by(WebhookDelivery.event_seq)
        .limit(bindparam("limit", type_=Integer()))
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    # One statement selects (skipping rows another process holds) and leases: a round trip less between an
    # event's commit and its request than a SELECT followed by an UPDATE (#18).
    return (
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids_query.scalar_subquery()))
        .values(
            lease_owner=bindparam("owner", type_=WebhookDelivery.lease_owner.type),
            lease_until=bindparam("lease_until", type_=WebhookDelivery.lease_until.type),
        )
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    )


DeliveryRow = tuple[WebhookDelivery, WebhookSubscription, OutboxEvent]


async def claim_deliveries(
    session: AsyncSession,
    *,
    now: dt.datetime,
    limit: int,
    owner: str,
    lease_until: dt.datetime,
    fresh: Mapping[str, DeliveryRow] | None = None,
) -> Sequence[DeliveryRow]:
    """Lease the due deliveries (at most one per subscription and case) to `owner`; commit before sending.

    `fresh` holds the deliveries this transaction's fan-out created, by id, so they need not be read again."""
    fresh = fresh or {}
    leased = await session.execute(
        _claim_statement(), {"now": now, "limit": limit, "owner": owner, "lease_until": lease_until}
    )
    ids = list(leased.scalars().all())
    if not ids:
        return []
    # A delivery the fan-out of this very transaction created comes with the subscription and event it was made
    # from (read in this transaction): reading them again cost a round trip and the loading of three entities
    # between an event's commit and its request (#18). Only other due deliveries (retries, or deliveries another
    # process fanned out) are read.
    known = {delivery_id: fresh[delivery_id] for delivery_id in ids if delivery_id in fresh}
    missing = [delivery_id for delivery_id in ids if delivery_id not in known]
    found = list(known.values())
    if missing:
        rows = await session.execute(
            select(WebhookDelivery, WebhookSubscription, OutboxEvent)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .join(OutboxEvent, OutboxEvent.seq == WebhookDelivery.event_seq)
            .where(WebhookDelivery.id.in_(missing))
            .execution_options(populate_existing=True)
        )
        found += [(d, s, e) for d, s, e in rows.all()]
    return sorted(found, key=lambda row: (row[0].event_seq, row[0].id))


async def leased_delivery(session: AsyncSession, *, delivery_id: str, owner: str) -> WebhookDelivery | None:
    """The delivery if `owner` still holds its lease (another process takes it over once the lease expires)."""
    query = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.lease_owner == owner,
            WebhookDelivery.status == PENDING,
        )
        .with_for_update()
    )
    return (await session.execute(query)).scalar_one_or_none()


async def next_due_at(session: AsyncSession) -> dt.datetime | None:
    """When the earliest pending delivery becomes due (or its lease runs out)."""
    query = select(
        func.min(func.coalesce(WebhookDelivery.lease_until, WebhookDelivery.next_attempt_at))
    ).where(WebhookDelivery.status == PENDING)
    value = (await session.execute(query)).scalar_one_or_none()
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns the aggregate as text, without the column's type
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


async def has_undispatched(session: AsyncSession) -> bool:
    query = select(OutboxEvent.seq).where(OutboxEvent.dispatched_at.is_(None)).limit(1)
    return (await session.execute(query)).first() is not None


async def event(session: AsyncSession, seq: int) -> OutboxEvent | None:
    return await session.get(OutboxEvent, seq)


async def subscription(session: AsyncSession, subscription_id: str) -> WebhookSubscription | None:
    if len(subscription_id) > 40:
        return None
    return await session.get(WebhookSubscription, subscription_id)


async def subscriptions_of(session: AsyncSession, municipality_code: str) -> Sequence[WebhookSubscription]:
    query = (
        select(WebhookSubscription)
        .where(WebhookSubscription.municipality_code == municipality_code)
        .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
    )
    return (await session.execute(query)).scalars().all()


async def delivery(session: AsyncSession, delivery_id: str) -> WebhookDelivery | None:
    if len(delivery_id) > 40:
        return None
    return await session.get(WebhookDelivery, delivery_id)


async def deliveries_page(
    session: AsyncSession,
    *,
    municipality_code: str,
    subscription_id: str | None,
    status: str | None,
    case_id: str | None,
    after_seq: int | None,
    after_id: str | None,
    limit: int,
) -> Sequence[tuple[WebhookDelivery, OutboxEvent]]:
    """Deliveries of one municipality, oldest event first."""
    # The log (receivers' status codes included) is the endpoint owner's: the subscription's municipality, too.
    query = (
        select(WebhookDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.seq == WebhookDelivery.event_seq)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.municipality_code == municipality_code,
            WebhookSubscription.municipality_code == municipality_code,
        )
    )
    if subscription_id is not None:
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if case_id is not None:
        query = query.where(WebhookDelivery.case_id == case_id)
    if after_seq is not None and after_id is not None:
        query = query.where(
            or_(
                WebhookDelivery.event_seq > after_seq,
                and_(WebhookDelivery.event_seq == after_seq, WebhookDelivery.id > after_id),
            )
        )
    query = query.order_by(WebhookDelivery.event_seq, WebhookDelivery.id).limit(limit)
    return [(d, e) for d, e in (await session.execute(query)).all()]


async def events_page(
    session: AsyncSession,
    *,
    municipality_code: str,
    event_types: Collection[str] | None,
    case_id: str | None,
    after_seq: int | None,
    limit: int,
) -> Sequence[OutboxEvent]:
    """Events of one municipality, oldest first (a feed: the cursor is the last event's position)."""
    query = select(OutboxEvent).where(OutboxEvent.municipality_code == municipality_code)
    if event_types:
        query = query.where(OutboxEvent.event_type.in_(event_types))
    if case_id is not None:
        query = query.where(OutboxEvent.case_id == case_id)
    if after_seq is not None:
        query = query.where(OutboxEvent.seq > after_seq)
    query = query.order_by(OutboxEvent.seq).limit(limit)
    return (await session.execute(query)).scalars().all()
