"""Rules of the outbox: record events in the caller's transaction, fan them out, manage subscriptions and deliveries."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal, PrincipalKind, Scope
from service.audit import service as audit
from service.cases.lifecycle import REASONS, Action, CaseState
from service.cases.models import Case
from service.errors import PermissionDenied
from service.kit import clock
from service.kit.egress import DestinationRefused, EgressPolicy, UrlRejected, parse_url
from service.kit.ids import random_id, random_secret
from service.outbox import repository, wakeup
from service.outbox.events import EventType, envelope, event_type_for
from service.outbox.exceptions import (
    DeliveryNotFound,
    DeliveryStillPending,
    InvalidSubscription,
    InvalidWebhookUrl,
    SubscriptionNotFound,
    WebhookDestinationRefused,
)
from service.outbox.models import OutboxEvent, WebhookDelivery, WebhookSubscription
from service.outbox.repository import DEAD, PENDING, SUCCEEDED
from service.outbox.secretbox import SecretBox

MAX_SUBSCRIPTIONS = 10


class EventEffect(Protocol):
    """Something besides webhooks that an event starts (e.g. the J-LIS submission), created at fan-out."""

    async def on_event(self, session: AsyncSession, event: OutboxEvent) -> None:
        """Write the effect's own rows in the fan-out transaction."""
        ...


async def on_case_transition(
    session: AsyncSession, *, case: Case, action: Action, from_state: CaseState, to_state: CaseState
) -> OutboxEvent | None:
    """Write the transition's event (if it is one) into the outbox, in the transaction of the transition."""
    event_type = event_type_for(to_state)
    if event_type is None:
        return None
    now = clock.now()
    event_id = random_id("evt")
    data: dict[str, object] = {
        "case_id": case.id,
        "reference": case.reference,  # 受付番号, what the back office hears on the phone (docs/domain.md §B4.1)
        "case_version": case.version,
        "procedure": case.procedure,
        "post_office_id": case.post_office_id,
        "action": action.value,
        "from_state": from_state.value,
        "state": to_state.value,
        "decision": case.decision if event_type is EventType.case_decided else None,
        # Only actions that take a reason set it afresh; an older reason on the case is not this event's.
        "reason_code": case.reason_code if action in REASONS else None,
    }
    event = OutboxEvent(
        event_id=event_id,
        event_type=event_type.value,
        municipality_code=case.municipality_code,
        case_id=case.id,
        payload=envelope(
            event_id=event_id,
            event_type=event_type,
            occurred_at=now,
            municipality_code=case.municipality_code,
            data=data,
        ),
        occurred_at=now,
    )
    session.add(event)
    await session.flush()
    wakeup.after_commit(session)
    return event


@dataclass
class FanOut:
    """What one fan-out did: how many events it dispatched, and the deliveries it created (by id, with the
    subscription and the event each was made from)."""

    events: int = 0
    deliveries: dict[str, repository.DeliveryRow] = field(default_factory=dict)


async def dispatch(session: AsyncSession, *, limit: int, effects: Sequence[EventEffect]) -> FanOut:
    """Fan the oldest undispatched events out into deliveries and effects."""
    now = clock.now()
    events = await repository.claim_undispatched(session, limit=limit, at=now)
    fan_out = FanOut(events=len(events))
    if not events:
        return fan_out
    subscriptions = await repository.active_subscriptions(session, {e.municipality_code for e in events})
    for event in events:
        for sub in subscriptions:
            if sub.municipality_code == event.municipality_code and event.event_type in sub.event_types:
                delivery = WebhookDelivery(
                    id=random_id("whd"),
                    subscription_id=sub.id,
                    event_seq=event.seq,
                    municipality_code=event.municipality_code,
                    case_id=event.case_id,
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    retry_from_at=now,
                    created_at=now,
                )
                session.add(delivery)
                fan_out.deliveries[delivery.id] = (delivery, sub, event)
        for effect in effects:
            await effect.on_event(session, event)
    await session.flush()
    return fan_out


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, for up to `horizon` after the first attempt."""

    base: dt.timedelta
    cap: dt.timedelta
    horizon: dt.timedelta

    def next_attempt(self, *, attempts: int, retry_from: dt.datetime, now: dt.datetime) -> dt.datetime | None:
        """When to try again after `attempts` failures, or None when the horizon is passed (dead letter)."""
        delay = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** max(attempts - 1, 0))
        # "Equal jitter": half fixed, half random, so a recovering receiver is not hit by every hub at once.
        jittered = delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 — spreading retries, not a secret
        when = now + dt.timedelta(seconds=jittered)
        return None if when > retry_from + self.horizon else when


async def finish_delivery(
    session: AsyncSession,
    *,
    delivery_id: str,
    owner: str,
    status_code: int | None,
    error: str | None,
    policy: RetryPolicy,
) -> str | None:
    """Record one attempt's outcome if `owner` still holds the lease; returns the delivery's new status."""
    delivery = await repository.leased_delivery(session, delivery_id=delivery_id, owner=owner)
    if delivery is None:
        return None
    now = clock.now()
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = error[:200] if error else None
    delivery.lease_owner = None
    delivery.lease_until = None
    if error is None and status_code is not None and 200 <= status_code < 300:
        delivery.status = SUCCEEDED
        delivery.delivered_at = now
    else:
        when = policy.next_attempt(attempts=delivery.attempts, retry_from=delivery.retry_from_at, now=now)
        if when is None:
            delivery.status = DEAD
            delivery.dead_at = now
        else:
            delivery.next_attempt_at = when
    await session.flush()
    return delivery.status


# --- subscriptions and deliveries, for the municipality's integration client -----------------------------------


def require_webhook_manager(principal: Principal) -> str:
    """The municipality of an integration client whose key carries webhooks:manage."""
    if (
        principal.kind is not PrincipalKind.integration
        or Scope.webhooks_manage not in principal.scopes
        or principal.municipality_code is None
    ):
        raise PermissionDenied("needs an integration API key with scope webhooks:manage")
    return principal.municipality_code


async def check_url(url: str, *, egress: EgressPolicy) -> str:
    """The canonical form of a webhook URL the hub may send to; InvalidWebhookUrl or WebhookDestinationRefused."""
    try:
        destination = parse_url(url)
    except UrlRejected as exc:
        raise InvalidWebhookUrl(str(exc), reason=exc.reason) from exc
    try:
        await egress.check(destination)
    except DestinationRefused as exc:
        raise WebhookDestinationRefused(str(exc), reason=exc.reason) from exc
    return destination.url


def _check_types(event_types: Collection[str]) -> list[str]:
    known = {t.value for t in EventType}
    unknown = sorted(set(event_types) - known)
    if unknown or not event_types:
        raise InvalidSubscription(f"unknown or no event types: {', '.join(unknown) or '(none)'}")
    return sorted(set(event_types))


async def create_subscription(
    session: AsyncSession,
    *,
    principal: Principal,
    url: str,
    event_types: Collection[str],
    description: str | None,
    box: SecretBox,
    egress: EgressPolicy,
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (returned once, stored encrypted)."""
    municipality_code = require_webhook_manager(principal)
    if len(await repository.subscriptions_of(session, municipality_code)) >= MAX_SUBSCRIPTIONS:
        raise InvalidSubscription(f"at most {MAX_SUBSCRIPTIONS} subscriptions per municipality")
    checked_url = await check_url(url, egress=egress)
    now = clock.now()
    secret = f"whsec_{random_secret(32)}"
    sub_id = random_id("whs")
    sub = WebhookSubscription(
        id=sub_id,
        municipality_code=municipality_code,
        url=checked_url,
        event_types=_check_types(event_types),
        description=description,
        active=True,
        secret_ciphertext=box.seal(secret, sub_id),
        created_by=principal.id,
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    await session.flush()
    await audit.record(
        session,
        actor=principal,
        action="webhook.subscription_created",
        municipality_code=municipality_code,
        object_type="webhook_subscription",
        object_id=sub.id,
    )
    return sub, secret


async def get_subscription(
    session: AsyncSession, *, principal: Principal, subscription_id: str
) -> WebhookSubscription:
    """A subscription of the caller's municipality; a foreign one is a 404."""
    municipality_code = require_webhook_manager(principal)
    sub = await repository.subscription(session, subscription_id)
    if sub is None or sub.municipality_code != municipality_code:
        raise SubscriptionNotFound()
    return sub


async def list_subscriptions(session: AsyncSession, *, principal: Principal) -> Sequence[WebhookSubscription]:
    """The caller's municipality's subscriptions."""
    return await repository.subscriptions_of(session, require_webhook_manager(principal))


async def update_subscription(
    session: AsyncSession,
    *,
    principal: Principal,
    subscription_id: str,
    url: str | None,
    event_types: Collection[str] | None,
    active: bool | None,
    description: str | None,
    box: SecretBox,
    egress: EgressPolicy,
    rotate_secret: bool = False,
) -> tuple[WebhookSubscription, str | None]:
    """Change a subscription; returns the new secret when it was rotated."""
    sub = await get_subscription(session, principal=principal, subscription_id=subscription_id)
    if url is not None:
        sub.url = await check_url(url, egress=egress)
    if event_types is not None:
        sub.event_types = _check_types(event_types)
    if active is not None:
        sub.active = active
    if description is not None:
        sub.description = description
    secret = None
    if rotate_secret:
        secret = f"whsec_{random_secret(32)}"
        sub.secret_ciphertext = box.seal(secret, sub.id)
    sub.updated_at = clock.now()
    await session.flush()
    await audit.record(
        session,
        actor=principal,
        action="webhook.subscription_rotated" if rotate_secret else "webhook.subscription_updated",
        municipality_code=sub.municipality_code,
        object_type="webhook_subscription",
        object_id=sub.id,
    )
    return sub, secret


async def list_deliveries(
    session: AsyncSession,
    *,
    principal: Principal,
    subscription_id: str | None,
    status: str | None,
    case_id: str | None,
    after: tuple[int, str] | None,
    limit: int,
) -> Sequence[tuple[WebhookDelivery, OutboxEvent]]:
    """The caller's municipality's deliveries, oldest event first."""
    municipality_code = require_webhook_manager(principal)
    return await repository.deliveries_page(
        session,
        municipality_code=municipality_code,
        subscription_id=subscription_id,
        status=status,
        case_id=case_id,
        after_seq=after[0] if after else None,
        after_id=after[1] if after else None,
        limit=limit,
    )


async def redeliver(
    session: AsyncSession, *, principal: Principal, delivery_id: str, egress: EgressPolicy
) -> tuple[WebhookDelivery, OutboxEvent]:
    """Send a dead (or already delivered) event again, with a fresh retry window — only to an endpoint the
    hub may still send to (redelivery on demand must not probe an address the rules now refuse)."""
    municipality_code = require_webhook_manager(principal)
    delivery = await repository.delivery(session, delivery_id)
    event = await repository.event(session, delivery.event_seq) if delivery is not None else None
    sub = await repository.subscription(session, delivery.subscription_id) if delivery is not None else None
    if (
        delivery is None
        or event is None
        or sub is None
        or delivery.municipality_code != municipality_code
        or sub.municipality_code != municipality_code
    ):
        raise DeliveryNotFound()
    if delivery.status == PENDING:
        raise DeliveryStillPending()
    await check_url(sub.url, egress=egress)
    now = clock.now()
    delivery.status = PENDING
    delivery.next_attempt_at = now
    delivery.retry_from_at = now
    delivery.dead_at = None
    delivery.lease_owner = None
    delivery.lease_until = None
    await session.flush()
    await audit.record(
        session,
        actor=principal,
        action="webhook.redelivery_requested",
        municipality_code=municipality_code,
        case_id=delivery.case_id,
        object_type="webhook_delivery",
        object_id=delivery.id,
    )
    wakeup.after_commit(session)
    return delivery, event


async def list_events(
    session: AsyncSession,
    *,
    municipality_code: str,
    event_types: Collection[str] | None,
    case_id: str | None,
    after_seq: int | None,
    limit: int,
) -> Sequence[OutboxEvent]:
    """The municipality's event feed, oldest first."""
    return await repository.events_page(
        session,
        municipality_code=municipality_code,
        event_types=event_types,
        case_id=case_id,
        after_seq=after_seq,
        limit=limit,
    )
