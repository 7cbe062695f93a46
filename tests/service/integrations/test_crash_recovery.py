"""The hub killed with SIGKILL between commit and send: after a restart the event is still delivered.

Runs `hub serve` as a subprocess on a fresh migrated database, with the real receiver of these tests on loopback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from clerk_agent.link.auth import DeviceAuth
from service import migrate
from service.config import Environment, Settings
from service.db import create_engine, create_sessionmaker
from service.outbox.models import OutboxEvent, WebhookDelivery
from tests._procs import free_port
from tests.factories import make_tenant, shinseisho_id
from tests.service.conftest import CONSENTS, ELIGIBLE
from tests.service.integrations.conftest import Receiver, subscribe, webhook_key

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
HUB = str(Path(sys.executable).parent / "hub")


class Hubs:
    """Starts `hub serve` processes and kills each by its PID (SIGKILL on purpose, or at cleanup)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self, **extra: str) -> tuple[asyncio.subprocess.Process, str]:
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            HUB,
            "serve",
            "--port",
            str(port),
            env={**self.env, **extra},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as probe:
            while True:
                try:
                    if (await probe.get(f"{base}/readyz", timeout=1)).status_code == 200:
                        return proc, base
                except httpx.TransportError:
                    pass
                assert proc.returncode is None, "hub serve exited"
                assert time.monotonic() < deadline, "hub serve did not come up"
                await asyncio.sleep(0.1)

    @staticmethod
    async def kill9(proc: asyncio.subprocess.Process) -> None:
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)

    async def stop_all(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                await self.kill9(proc)


@pytest.fixture
async def hubs(fresh_database_url: str, tmp_path: Path) -> AsyncIterator[Hubs]:
    """A fresh migrated database and a way to run hubs on it."""
    engine = create_engine(fresh_database_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    env = {
        **os.environ,
        "HUB_DATABASE_URL": fresh_database_url,
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_ENVIRONMENT": "development",
        "HUB_JLIS_ADAPTER": "off",
        "HUB_OUTBOX_POLL_SECONDS": "0.2",
        "HUB_WEBHOOK_TIMEOUT_SECONDS": "2",
        "HUB_OUTBOX_LEASE_SECONDS": "3",
        "HUB_WEBHOOK_RETRY_BASE_SECONDS": "0.1",
        "HUB_WEBHOOK_ALLOWED_DESTINATIONS": '["127.0.0.1"]',  # the receiver listens on loopback
    }
    hubs = Hubs(env)
    try:
        yield hubs
    finally:
        await hubs.stop_all()


async def _wait(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_event_committed_before_a_sigkill_is_delivered_after_restart(
    hubs: Hubs, fresh_database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = Settings(
        environment=Environment.test, database_url=fresh_database_url, data_dir=tmp_path / "data"
    )
    engine = create_engine(fresh_database_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        tenant = await make_tenant(sessionmaker, settings, prefix="99001", name="甲市", office_code="99101")
        hooks = await webhook_key(sessionmaker, tenant)

        # 1. Worker off: the transition commits, nothing is sent, and the process dies.
        first, base = await hubs.start(HUB_OUTBOX_WORKER="off")
        async with httpx.AsyncClient(base_url=base) as api:
            receiver.secret = (await subscribe(api, hooks, receiver.url, ["case.queued"]))["secret"]
        async with httpx.AsyncClient(
            base_url=base, auth=DeviceAuth(tenant.device_id, tenant.device_key)
        ) as device:
            body = {
                "municipality_code": tenant.municipality_code,
                "procedure": "card_application",
                "shinseisho_id": shinseisho_id(),
            }
            case = (await device.post("/api/v1/cases", json=body)).json()
            for action, payload in (
                ("check-in", {}),
                ("precheck", {"answers": ELIGIBLE}),
                ("consents", {"consents": CONSENTS}),
                ("request-verification", {}),
            ):
                response = await device.post(f"/api/v1/cases/{case['id']}/{action}", json=payload)
                assert response.status_code == 200, response.text
        await hubs.kill9(first)
        async with sessionmaker() as session:
            event = (await session.execute(select(OutboxEvent))).scalar_one()
        assert event.event_type == "case.queued"
        assert event.dispatched_at is None
        assert receiver.requests == []

        # 2. Worker on, receiver stalled: the request is on the wire when the process is killed.
        receiver.stall = asyncio.Event()
        second, _ = await hubs.start(HUB_OUTBOX_WORKER="on")
        await asyncio.wait_for(receiver.arrived.wait(), 20)
        await hubs.kill9(second)
        receiver.stall.set()
        receiver.stall = None
        async with sessionmaker() as session:
            delivery = (await session.execute(select(WebhookDelivery))).scalar_one()
        assert delivery.status == "pending"
        assert delivery.lease_owner is not None  # the dead process still holds the lease …
        assert receiver.accepted == [] or receiver.accepted[0]["id"] == event.event_id

        # 3. … until it runs out; the restarted hub then delivers the event.
        started = time.monotonic()
        await hubs.start(HUB_OUTBOX_WORKER="on")
        await _wait(lambda: any(e["id"] == event.event_id for e in receiver.accepted), 30, "redelivery")
        assert time.monotonic() - started < 30
        accepted = [e for e in receiver.accepted if e["id"] == event.event_id]
        assert len(accepted) == 1  # the receiver de-duplicates by event id (at least once on the wire)
        assert accepted[0]["data"]["case_id"] == case["id"]
        await _wait(lambda: receiver.requests[-1].status == 200, 5, "a 200")
        async with sessionmaker() as session:
            done = (await session.execute(select(WebhookDelivery))).scalar_one()
        deadline = time.monotonic() + 10
        while done.status != "succeeded" and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            async with sessionmaker() as session:
                done = (await session.execute(select(WebhookDelivery))).scalar_one()
        assert done.status == "succeeded"
    finally:
        await engine.dispose()
