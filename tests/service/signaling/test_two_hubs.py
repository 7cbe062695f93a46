"""Two `hub serve` processes on one PostgreSQL: the clerk on one, the officer on the other, a call completes."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from clerk_agent.link.auth import DeviceAuth
from clerk_agent.link.signaling import HubSignaling
from service import migrate
from service.accounts.roles import Role
from service.config import Environment, Settings
from service.db import create_engine, create_sessionmaker
from service.signaling.service import SIGNALING_PATH
from service.wire.signaling import CloseCode, JoinMessage
from tests._nats import NatsServer
from tests._procs import free_port, stop
from tests._services import missing_service
from tests.conftest import PG_ADMIN_URL
from tests.factories import login, make_tenant
from tests.service.signaling._hub import RawSocket, assign_officer, live_call, ticket, ws_url_with

pytestmark = pytest.mark.pg


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database of this test's own, dropped afterwards."""
    name = f"madoguchi_sig_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OSError:
        await admin.dispose()
        missing_service(f"PostgreSQL at {PG_ADMIN_URL}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    try:
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


class HubProcess:
    """One `hub serve` subprocess, stopped by its PID."""

    def __init__(self, start: Callable[[], tuple[subprocess.Popen[bytes], str, Path]]) -> None:
        self._start = start
        self.proc, self.url, self.log = start()

    def respawn(self) -> None:
        """Start again on a fresh port: another process took the free port between its pick and the bind."""
        self.proc, self.url, self.log = self._start()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in 10 s."""
        stop(self.proc)


def _spawn(
    index: int, database_url: str, secret: str, tmp_path: Path, bus: dict[str, str] | None = None
) -> HubProcess:
    def start() -> tuple[subprocess.Popen[bytes], str, Path]:
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "HUB_ENVIRONMENT": "test",
            "HUB_DATABASE_URL": database_url,
            "HUB_HOST": "127.0.0.1",
            "HUB_PORT": str(port),
            "HUB_PUBLIC_ORIGIN": origin,
            "HUB_SECRET_KEY": secret,  # shared: a ticket or resume token of one replica is valid on the other
            "HUB_DATA_DIR": str(tmp_path / f"hub{index}"),
            "HUB_SIGNALING_BUS": "postgres",
            **(bus or {}),
        }
        log = tmp_path / f"hub{index}.log"
        hub = Path(sys.executable).with_name("hub")
        with log.open("wb") as out:
            proc = subprocess.Popen([str(hub), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
        return proc, origin, log

    return HubProcess(start)


async def _wait_healthy(hub: HubProcess) -> None:
    respawned = 0
    async with httpx.AsyncClient() as client, asyncio.timeout(30):
        while True:
            if hub.proc.poll() is not None:
                if "address already in use" in hub.log.read_text() and respawned < 3:
                    respawned += 1
                    hub.respawn()
                    continue
                pytest.fail(f"hub exited {hub.proc.returncode}: {hub.log.read_text()[-2000:]}")
            try:
                if (await client.get(f"{hub.url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


@pytest.fixture
def hubs(pg_database: str, tmp_path: Path) -> Iterator[tuple[HubProcess, HubProcess]]:
    """Two hub processes on the same database."""
    secret = secrets.token_urlsafe(32)
    started: list[HubProcess] = []
    try:
        started.append(_spawn(1, pg_database, secret, tmp_path))
        started.append(_spawn(2, pg_database, secret, tmp_path))
        yield started[0], started[1]
    finally:
        for hub in started:
            hub.stop()


@pytest.fixture
def nats_hubs(pg_database: str, tmp_path: Path) -> Iterator[tuple[HubProcess, HubProcess]]:
    """Two hub processes on the same database whose signaling bus is a nats-server of their own."""
    server = NatsServer()
    server.start()
    secret = secrets.token_urlsafe(32)
    bus = {"HUB_SIGNALING_BUS": "nats", "HUB_SIGNALING_NATS_URL": server.url}
    started: list[HubProcess] = []
    try:
        started.append(_spawn(1, pg_database, secret, tmp_path, bus))
        started.append(_spawn(2, pg_database, secret, tmp_path, bus))
        yield started[0], started[1]
    finally:
        for hub in started:
            hub.stop()
        server.stop()


async def test_clerk_and_officer_on_different_hub_processes(
    hubs: tuple[HubProcess, HubProcess], pg_database: str, tmp_path: Path
) -> None:
    await _call_across(hubs, pg_database, tmp_path)


async def test_clerk_and_officer_on_different_hub_processes_over_nats(
    nats_hubs: tuple[HubProcess, HubProcess], pg_database: str, tmp_path: Path
) -> None:
    await _call_across(nats_hubs, pg_database, tmp_path)


async def _call_across(hubs: tuple[HubProcess, HubProcess], pg_database: str, tmp_path: Path) -> None:
    """The clerk on the first replica, the officer on the second: presence crosses the bus and a call connects."""
    hub1, hub2 = hubs
    settings = Settings(environment=Environment.test, database_url=pg_database, data_dir=tmp_path / "seed")
    engine = create_engine(pg_database)
    try:
        sessionmaker = create_sessionmaker(engine)
        tenant = await make_tenant(sessionmaker, settings, prefix="99003", name="丙村", office_code="99103")
        await asyncio.gather(_wait_healthy(hub1), _wait_healthy(hub2))
        async with (
            httpx.AsyncClient(
                base_url=hub1.url, auth=DeviceAuth(tenant.device_id, tenant.device_key)
            ) as device,
            httpx.AsyncClient(base_url=hub2.url) as officer_http,
        ):
            body = {"municipality_code": tenant.municipality_code, "procedure": "pin_reset"}
            created = await device.post("/api/v1/cases", json=body)
            assert created.status_code == 201, created.text
            case_id = created.json()["id"]
            await assign_officer(sessionmaker, case_id, tenant.usernames[Role.officer])
            officer_http.headers.update(await login(officer_http, tenant.usernames[Role.officer]))

            clerk = HubSignaling(device, case_id, role="clerk")
            officer = HubSignaling(officer_http, case_id, role="officer")
            await clerk.connect()
            await officer.connect()
            try:
                # Each participant sits on its own replica; presence crossed the bus.
                await clerk.wait_for_peer(5)
                await officer.wait_for_peer(5)
                async with live_call(clerk, officer) as call:
                    await call.officer.wait_first_frame("video")
                    await call.agent.wait_first_frame("audio")
            finally:
                await clerk.close()
                await officer.close()
    finally:
        await engine.dispose()
    for hub in hubs:
        assert hub.proc.poll() is None, hub.log.read_text()[-2000:]


async def test_a_ticket_used_on_one_replica_is_refused_on_the_other(
    hubs: tuple[HubProcess, HubProcess], pg_database: str, tmp_path: Path
) -> None:
    hub1, hub2 = hubs
    settings = Settings(environment=Environment.test, database_url=pg_database, data_dir=tmp_path / "seed")
    engine = create_engine(pg_database)
    try:
        tenant = await make_tenant(
            create_sessionmaker(engine), settings, prefix="99004", name="丁村", office_code="99104"
        )
        await asyncio.gather(_wait_healthy(hub1), _wait_healthy(hub2))
        async with httpx.AsyncClient(
            base_url=hub1.url, auth=DeviceAuth(tenant.device_id, tenant.device_key)
        ) as device:
            body = {"municipality_code": tenant.municipality_code, "procedure": "pin_reset"}
            created = await device.post("/api/v1/cases", json=body)
            assert created.status_code == 201, created.text
            case_id = created.json()["id"]
            issued = await ticket(device, case_id)
            first = await RawSocket.open(ws_url_with(issued))
            await first.join(case_id, "clerk")
            # The same ticket at the other replica (a copied URL): that replica never saw it, the database did.
            other = hub2.url.replace("http://", "ws://", 1) + SIGNALING_PATH
            replay = await RawSocket.open(f"{other}?ticket={issued['ticket']}")
            await replay.send(JoinMessage(seq=0, room=case_id, role="clerk"))
            closed = await replay.closed()
            assert (closed.code, closed.errors) == (CloseCode.UNAUTHENTICATED, ["ticket_used"])
            await first.close()
    finally:
        await engine.dispose()
