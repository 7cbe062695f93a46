"""Relay-only through coturn with credentials the hub minted: the call connects over TURN on both ends."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.signaling import HubSignaling
from service.accounts.roles import Role
from service.config import IceServerSetting, Settings
from tests._coturn import Coturn, run_coturn
from tests._services import missing_service
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.signaling._hub import assign_officer, live_call


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    """turnserver with the REST-API secret on 127.0.0.1 (loopback peers allowed), stopped by PID."""
    binary = shutil.which("turnserver")
    if binary is None:
        missing_service("coturn")
        raise AssertionError("unreachable")
    with run_coturn(binary, "127.0.0.1", tmp_path / "turnserver.log", "madoguchi-test") as turn:
        yield turn


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
