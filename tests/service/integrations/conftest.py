"""Fixtures of integration tests: a hub whose outbox worker runs, and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import service as accounts_service
from service.accounts.roles import SYSTEM, Scope
from service.config import Settings
from service.db import unit_of_work
from tests._uvicorn import served
from tests.factories import Tenant, World

REPLAY_WINDOW = 300


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The service tests' settings with the outbox worker on, quick retries, a fast J-LIS simulator, and
    webhooks allowed to reach 127.0.0.1 (the receivers)."""
    return settings.model_copy(
        update={
            "outbox_worker": "on",
            "outbox_poll_seconds": 0.2,
            "outbox_lease_seconds": 3.0,
            "webhook_timeout_seconds": 2.0,
            "webhook_retry_base_seconds": 0.05,
            "webhook_retry_max_seconds": 0.4,
            "webhook_retry_horizon_seconds": 4.0,
            "jlis_adapter": "simulator",
            "jlis_poll_seconds": 0.1,
            "jlis_simulator_production_seconds": 0.3,
            # The receivers of these tests listen on loopback, which webhooks may reach only when allowed.
            "webhook_allowed_destinations": ["127.0.0.1"],
        }
    )


@dataclass
class Received:
    """One request as it reached the receiver (raw, so a test can replay it)."""

    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """A back office's webhook endpoint, written from the README alone: verify, refuse replays, de-duplicate."""

    secret: str = ""
    fail_next: int = 0
    stall: asyncio.Event | None = None
    requests: list[Received] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    _seen_signatures: set[str] = field(default_factory=set)
    _seen_events: set[str] = field(default_factory=set)
    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def verify(self, headers: dict[str, str], body: bytes) -> int:
        """200, or the status a careful receiver answers."""
        fields: dict[str, str] = {}
        for part in headers.get("madoguchi-signature", "").split(","):
            key, _, value = part.partition("=")
            fields[key.strip()] = value.strip()
        if "t" not in fields or "v1" not in fields or not fields["t"].isdigit():
            return 400
        if abs(time.time() - int(fields["t"])) > REPLAY_WINDOW:
            return 400
        mac = hmac.new(self.secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, fields["v1"]):
            return 401
        if fields["v1"] in self._seen_signatures:
            return 409  # the very same signed request again: a replay, not a retry (a retry is signed afresh)
        self._seen_signatures.add(fields["v1"])
        return 200

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.arrived.set()
        if self.stall is not None:
            await self.stall.wait()
        if self.fail_next > 0:
            self.fail_next -= 1
            status = 503
        else:
            status = self.verify(headers, body)
        self.requests.append(Received(headers, body, status))
        if status == 200:
            event = json.loads(body)
            if event["id"] in self._seen_events:
                self.duplicates += 1
            else:
                self._seen_events.add(event["id"])
                self.accepted.append(event)
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"ok" if status == 200 else b"no"})

    async def wait_for(self, predicate: Callable[[], bool], within: float = 20.0) -> None:
        """Poll until `predicate` holds."""
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; accepted={[e['type'] for e in self.accepted]}")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def serving(app: Receiver, host: str = "127.0.0.1") -> AsyncIterator[Receiver]:
    """Serve `app` with uvicorn on a free port of `host` (a loopback address) until the block ends."""
    sock = socket.socket()
    sock.bind((host, 0))
    app.url = f"http://{host}:{sock.getsockname()[1]}/hooks"
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", access_log=False)
    try:
        async with served(config, sockets=[sock], name="uvicorn-webhook-receiver"):
            try:
                yield app
            finally:
                if app.stall is not None:
                    app.stall.set()
    finally:
        sock.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A Receiver served by uvicorn on a free loopback port; stopped when the test ends."""
    async with serving(Receiver()) as app:
        yield app


async def webhook_key(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant) -> dict[str, str]:
    """Headers of a new integration client of `tenant` that manages webhooks."""
    async with unit_of_work(sessionmaker) as session:
        _, _, key = await accounts_service.create_client(
            session,
            actor=SYSTEM,
            municipality_code=tenant.municipality_code,
            name="webhook admin",
            scopes=[Scope.webhooks_manage, Scope.cases_read],
            key_ttl_days=30,
        )
    return {"Authorization": f"ApiKey {key}"}


async def subscribe(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, event_types: list[str] | None = None
) -> dict[str, Any]:
    """Create a subscription; returns the response body (with the secret)."""
    response = await client.post(
        "/api/v1/webhook-subscriptions",
        json={
            "url": url,
            "event_types": event_types
            or [
                "case.queued",
                "case.decided",
                "case.finalized",
                "case.submitted",
                "card.produced",
                "mail.dispatched",
                "mail.delivered",
                "mail.returned",
                "case.closed",
            ],
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
async def hooks_a(
    client: httpx.AsyncClient,
    world: World,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> dict[str, str]:
    """Tenant A's webhook-managing key, with the receiver subscribed to every event type."""
    headers = await webhook_key(sessionmaker, world.a)
    created = await subscribe(client, headers, receiver.url)
    receiver.secret = created["secret"]
    return headers
