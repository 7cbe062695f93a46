"""Relay-only through coturn with credentials the hub minted: the call connects over TURN on both ends."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.signaling import HubSignaling
from service.accounts.roles import Role
from service.config import IceServerSetting, Settings
from tests._services import missing_service
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.signaling._hub import assign_officer, free_port, live_call


@dataclass(frozen=True)
class Coturn:
    """A running turnserver on 127.0.0.1."""

    port: int
    secret: str


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    """turnserver with the REST-API secret on 127.0.0.1 (loopback peers allowed), stopped by PID."""
    binary = shutil.which("turnserver")
    if binary is None:
        missing_service("coturn")
        raise AssertionError("unreachable")
    port, secret = free_port(), secrets.token_urlsafe(24)
    relay_from = 50_000 + secrets.randbelow(100) * 100
    log = tmp_path / "turnserver.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                "-n",
                "--listening-ip=127.0.0.1",
                f"--listening-port={port}",
                "--relay-ip=127.0.0.1",
                f"--min-port={relay_from}",
                f"--max-port={relay_from + 99}",
                "--realm=madoguchi-test",
                "--use-auth-secret",
                f"--static-auth-secret={secret}",
                "--fingerprint",
                # Relay and peers are all 127.0.0.1 here; without this coturn answers 403 Forbidden IP.
                "--allow-loopback-peers",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "--no-multicast-peers",
                "--log-file=stdout",
                "--simple-log",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                pytest.fail(f"turnserver exited: {log.read_text()[-2000:]}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                pytest.fail("turnserver did not listen within 10 s")
            time.sleep(0.05)
        yield Coturn(port, secret)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


@pytest.fixture
def settings(settings: Settings, coturn: Coturn) -> Settings:
    """Relay-only signaling with the test coturn as the only ICE server."""
    return settings.model_copy(
        update={
            "ice_servers": [IceServerSetting(urls=[f"turn:127.0.0.1:{coturn.port}?transport=udp"])],
            "turn_secret": SecretStr(coturn.secret),
            "turn_ttl_seconds": 300,
            "signaling_relay_only": True,
        }
    )


async def test_relay_only_call_through_coturn(
    hub_url: str,
    world: World,
    driver: CaseDriver,
    officer_http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    coturn: Coturn,
) -> None:
    case = await driver.create()
    await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])
    clerk = HubSignaling(world.device_a, case["id"], role="clerk")
    officer = HubSignaling(officer_http, case["id"], role="officer")
    await clerk.connect()
    await officer.connect()
    try:
        assert clerk.relay_only
        assert officer.relay_only
        [server] = clerk.ice_servers
        assert server.username is not None
        assert server.username.endswith(f":{world.a.device_id}")
        async with live_call(clerk, officer) as call:
            await call.officer.wait_first_frame("video")
            metrics = call.agent.metrics()
            assert (metrics.local_candidate, metrics.remote_candidate) == ("relay", "relay")
    finally:
        await clerk.close()
        await officer.close()
