"""Sending one signed webhook request (no SQL; the transport is injectable for tests)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from service.outbox import signing


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
    """What the receiver answered: a status code, or the transport error that stood in its way."""

    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        """A 2xx answer is the receiver's acknowledgement; anything else is retried."""
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    """Signs and POSTs event bodies with one shared httpx client."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, attempt: Attempt, *, timestamp: int) -> Outcome:
        """POST the body once; never raises for the receiver's or the network's failures."""
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
            # Streamed and not read: a receiver's large or slow response body must not hold the sender.
            async with self._client.stream("POST", attempt.url, content=attempt.body, headers=headers) as r:
                status = r.status_code
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:200])
        return Outcome(status, None if 200 <= status < 300 else f"HTTP {status}")
