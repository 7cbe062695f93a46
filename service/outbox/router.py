"""Webhook subscription and delivery endpoints (integration key with webhooks:manage), and the event feed."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from service.accounts.deps import AppSettings, CasesReader, WebhookManager
from service.accounts.roles import PrincipalKind
from service.db import DBSession
from service.errors import BadRequest, PermissionDenied, Unauthenticated, problem_responses
from service.idempotency import http as idempotent
from service.idempotency.deps import IdempotencyKey
from service.idempotency.service import IdempotencyMismatch
from service.kit.bounds import MAX_SEQ
from service.kit.pagination import Page
from service.outbox import service as outbox_service
from service.outbox.deps import WebhookEgress
from service.outbox.events import EventType
from service.outbox.exceptions import (
    DeliveryNotFound,
    DeliveryStillPending,
    InvalidSubscription,
    InvalidWebhookUrl,
    SubscriptionNotFound,
    WebhookDestinationRefused,
)
from service.outbox.models import OutboxEvent, WebhookDelivery
from service.outbox.schemas import (
    DeliveryRead,
    EventRead,
    SubscriptionCreate,
    SubscriptionRead,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)
from service.outbox.secretbox import SecretBox
from service.outbox.sender import public_error

router = APIRouter(prefix="/api/v1", tags=["webhooks"])


def _box(settings: AppSettings) -> SecretBox:
    return SecretBox(settings.secret_key.get_secret_value())


def encode_cursor(*parts: int | str) -> str:
    """An opaque cursor over the given sort key."""
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


def decode_cursor(token: str, *types: type) -> list[int | str]:
    """Parse a cursor issued by encode_cursor; 400 otherwise."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("invalid cursor") from exc
    if (
        not isinstance(raw, list)
        or len(raw) != len(types)
        or not all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(raw, types, strict=True))
        # A crafted cursor may carry any integer: past a BIGINT it would overflow in the database.
        or not all(0 <= v <= MAX_SEQ for v in raw if isinstance(v, int))
        or not all(len(v) <= 64 for v in raw if isinstance(v, str))
    ):
        raise BadRequest("invalid cursor")
    return raw


def _delivery(d: WebhookDelivery, e: OutboxEvent) -> DeliveryRead:
    return DeliveryRead(
        id=d.id,
        subscription_id=d.subscription_id,
        event_id=e.event_id,
        event_type=EventType(e.event_type),
        case_id=d.case_id,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        last_status_code=d.last_status_code,
        last_error=public_error(d.last_error),
        created_at=d.created_at,
        delivered_at=d.delivered_at,
        dead_at=d.dead_at,
    )


@router.post(
    "/webhook-subscriptions",
    response_model=SubscriptionWithSecret,
    status_code=201,
    responses=problem_responses(
        Unauthenticated,
        PermissionDenied,
        InvalidSubscription,
        InvalidWebhookUrl,
        WebhookDestinationRefused,
        IdempotencyMismatch,
    ),
)
async def create_subscription(
    body: SubscriptionCreate,
    request: Request,
    session: DBSession,
    principal: WebhookManager,
    settings: AppSettings,
    egress: WebhookEgress,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Subscribe an endpoint to event types; the signing secret is in this response only. Supports Idempotency-Key."""
    outbox_service.require_webhook_manager(principal)

    async def run() -> dict[str, object]:
        sub, secret = await outbox_service.create_subscription(
            session,
            principal=principal,
            url=body.url,
            event_types=[t.value for t in body.event_types],
            description=body.description,
            box=_box(settings),
            egress=egress,
        )
        read = SubscriptionRead.model_validate(sub).model_dump(mode="json")
        return SubscriptionWithSecret(**read, secret=secret).model_dump(mode="json")

    async def restore(stored: dict[str, object]) -> dict[str, object]:
        # The secret never rests in the idempotency table: a replay decrypts it from the subscription.
        sub = await outbox_service.get_subscription(
            session, principal=principal, subscription_id=str(stored["id"])
        )
        return {**stored, "secret": _box(settings).open(sub.secret_ciphertext, sub.id)}

    return await idempotent.respond(
        session,
        request=request,
        principal=principal,
        key=idempotency_key,
        body=body,
        status_code=201,
        run=run,
        redact=lambda payload: {**payload, "secret": None},
        restore=restore,
    )


@router.get(
    "/webhook-subscriptions",
    response_model=list[SubscriptionRead],
    responses=problem_responses(Unauthenticated, PermissionDenied),
)
async def list_subscriptions(session: DBSession, principal: WebhookManager) -> list[SubscriptionRead]:
    """The municipality's webhook subscriptions (secrets are never shown again)."""
    subs = await outbox_service.list_subscriptions(session, principal=principal)
    return [SubscriptionRead.model_validate(s) for s in subs]


@router.get(
    "/webhook-subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    responses=problem_responses(Unauthenticated, PermissionDenied, SubscriptionNotFound),
)
async def read_subscription(
    subscription_id: str, session: DBSession, principal: WebhookManager
) -> SubscriptionRead:
    """One subscription of the caller's municipality."""
    sub = await outbox_service.get_subscription(session, principal=principal, subscription_id=subscription_id)
    return SubscriptionRead.model_validate(sub)


@router.patch(
    "/webhook-subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    responses=problem_responses(
        Unauthenticated,
        PermissionDenied,
        SubscriptionNotFound,
        InvalidSubscription,
        InvalidWebhookUrl,
        WebhookDestinationRefused,
    ),
)
async def update_subscription(
    subscription_id: str,
    body: SubscriptionUpdate,
    session: DBSession,
    principal: WebhookManager,
    settings: AppSettings,
    egress: WebhookEgress,
) -> SubscriptionRead:
    """Change the URL or event types, or pause (`active: false`) and resume a subscription."""
    sub, _ = await outbox_service.update_subscription(
        session,
        principal=principal,
        subscription_id=subscription_id,
        url=body.url,
        event_types=[t.value for t in body.event_types] if body.event_types is not None else None,
        active=body.active,
        description=body.description,
        box=_box(settings),
        egress=egress,
    )
    return SubscriptionRead.model_validate(sub)


@router.post(
    "/webhook-subscriptions/{subscription_id}/rotate-secret",
    response_model=SubscriptionWithSecret,
    responses=problem_responses(Unauthenticated, PermissionDenied, SubscriptionNotFound),
)
async def rotate_secret(
    subscription_id: str,
    session: DBSession,
    principal: WebhookManager,
    settings: AppSettings,
    egress: WebhookEgress,
) -> SubscriptionWithSecret:
    """Replace the signing secret (shown once); deliveries from now on are signed with the new one."""
    sub, secret = await outbox_service.update_subscription(
        session,
        principal=principal,
        subscription_id=subscription_id,
        url=None,
        event_types=None,
        active=None,
        description=None,
        box=_box(settings),
        egress=egress,
        rotate_secret=True,
    )
    read = SubscriptionRead.model_validate(sub).model_dump()
    return SubscriptionWithSecret(**read, secret=secret or "")


@router.get(
    "/webhook-deliveries",
    response_model=Page[DeliveryRead],
    responses=problem_responses(Unauthenticated, PermissionDenied, BadRequest),
)
async def list_deliveries(
    session: DBSession,
    principal: WebhookManager,
    subscription_id: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(pattern="^(pending|succeeded|dead)$")] = None,
    case_id: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[DeliveryRead]:
    """Deliveries of the municipality's events, oldest first; `status=dead` lists the dead letters."""
    after = decode_cursor(cursor, int, str) if cursor else None
    rows = await outbox_service.list_deliveries(
        session,
        principal=principal,
        subscription_id=subscription_id,
        status=status,
        case_id=case_id,
        after=(int(after[0]), str(after[1])) if after else None,
        limit=limit + 1,
    )
    items = [_delivery(d, e) for d, e in rows[:limit]]
    last = rows[limit - 1][0] if len(rows) > limit else None
    return Page[DeliveryRead](
        items=items, next_cursor=encode_cursor(last.event_seq, last.id) if last is not None else None
    )


@router.post(
    "/webhook-deliveries/{delivery_id}/redeliver",
    response_model=DeliveryRead,
    responses=problem_responses(
        Unauthenticated,
        PermissionDenied,
        DeliveryNotFound,
        DeliveryStillPending,
        InvalidWebhookUrl,
        WebhookDestinationRefused,
    ),
)
async def redeliver(
    delivery_id: str, session: DBSession, principal: WebhookManager, egress: WebhookEgress
) -> DeliveryRead:
    """Queue a dead (or delivered) event for this subscription again, with a fresh 24-hour retry window; refused
    when the endpoint's URL is one the hub no longer sends to."""
    delivery, event = await outbox_service.redeliver(
        session, principal=principal, delivery_id=delivery_id, egress=egress
    )
    return _delivery(delivery, event)


@router.get(
    "/events",
    response_model=Page[EventRead],
    responses=problem_responses(Unauthenticated, PermissionDenied, BadRequest),
)
async def list_events(
    session: DBSession,
    principal: CasesReader,
    event_type: Annotated[list[EventType] | None, Query(alias="type")] = None,
    case_id: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[EventRead]:
    """The municipality's events, oldest first (integration key with cases:read): the pull twin of webhooks."""
    if principal.kind is not PrincipalKind.integration or principal.municipality_code is None:
        raise PermissionDenied("the event feed is for the municipality's integration client")
    after = decode_cursor(cursor, int) if cursor else None
    rows = await outbox_service.list_events(
        session,
        municipality_code=principal.municipality_code,
        event_types=[t.value for t in event_type] if event_type else None,
        case_id=case_id,
        after_seq=int(after[0]) if after else None,
        limit=limit + 1,
    )
    items = [EventRead.model_validate(e.payload) for e in rows[:limit]]
    # A feed: the cursor of the last event is always returned, so a poller resumes where it stopped.
    next_cursor = encode_cursor(rows[len(items) - 1].seq) if items else cursor
    return Page[EventRead](items=items, next_cursor=next_cursor)
