"""Sending one signed webhook request (no SQL; the transport is injectable for tests)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

import httpx

from service.kit.egress import DestinationRefused, UrlRejected, parse_url
from service.outbox import signing

log = logging.getLogger(__name__)


class DeliveryError(StrEnum):
    """Why an attempt was not acknowledged: a category, never a network error's text (which would map the
    hub's network for whoever reads the delivery log)."""

    http_status = "http_status"  # the receiver answered, not with 2xx: see last_status_code
    unreachable = "unreachable"  # no answer: connection failed, timed out, or broke off
    destination_refused = "destination_refused"  # the host is, or now resolves to, an address the hub refuses
    invalid_url = "invalid_url"  # the stored URL is not in the strict form (stored before the check existed)
    secret_unreadable = "secret_unreadable"  # noqa: S105 — a category name; the signing secret cannot be decrypted (HUB_SECRET_KEY changed)
    internal = "internal"  # the hub could not prepare the request (its log says why)


def public_error(stored: str | None) -> DeliveryError | None:
    """The category of a stored error (rows written before categories held the error's text)."""
    if stored is None:
        return None
    if stored in {e.value for e in DeliveryError}:
        return DeliveryError(stored)
    return DeliveryError.http_status if stored.startswith("HTTP ") else DeliveryError.unreachable


@dataclass(frozen=True)
class Attempt:
    """Everything needed to send one delivery once."""

    delivery_id: str
    attempt: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """What the receiver answered: a status code, or the category of what stood in its way."""

    status_code: int | None
    error: DeliveryError | None

    @property
    def delivered(self) -> bool:
        """A 2xx answer is the receiver's acknowledgement; anything else is retried."""
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    """Signs and POSTs event bodies with one shared httpx client (its transport enforces the egress policy)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, attempt: Attempt, *, timestamp: int) -> Outcome:
        """POST the body once; never raises for the URL's, the receiver's or the network's failures."""
        try:
            url = parse_url(attempt.url).url
        except UrlRejected:
            return Outcome(None, DeliveryError.invalid_url)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "madoguchi-bridge-webhooks/1",
            signing.SIGNATURE_HEADER: signing.header_value(attempt.secret, timestamp, attempt.body),
            signing.EVENT_ID_HEADER: attempt.event_id,
            signing.EVENT_TYPE_HEADER: attempt.event_type,
            signing.DELIVERY_ID_HEADER: attempt.delivery_id,
            signing.ATTEMPT_HEADER: str(attempt.attempt),
        }
        try:
            # Streamed and not read: the status decides, and a receiver's large or slow response body (or one held
            # back by its Nagle algorithm) must not hold the sender; the transport drains it afterwards to keep the
            # connection (service/kit/egress_http.py).
            async with self._client.stream("POST", url, content=attempt.body, headers=headers) as r:
                status = r.status_code
        except DestinationRefused as exc:
            log.warning("webhook delivery %s refused: %s", attempt.delivery_id, exc.reason)
            return Outcome(None, DeliveryError.destination_refused)
        except Exception as exc:  # any failure of one delivery is that delivery's, never the pass's
            log.info("webhook delivery %s failed: %s", attempt.delivery_id, type(exc).__name__)
            return Outcome(None, DeliveryError.unreachable)
        return Outcome(status, None if 200 <= status < 300 else DeliveryError.http_status)
