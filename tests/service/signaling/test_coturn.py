"""Relay-only through coturn with credentials the hub minted: the call connects over TURN on both ends."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.signaling import HubSignaling
from clerk_agent.rtc.call import take_call
from clerk_agent.rtc.ice import build_configuration
from clerk_agent.rtc.peer import AgentPeer, CallMedia
from clerk_agent.rtc.sinks import RecorderSink
from service.accounts.roles import Role
from service.config import IceServerSetting, Settings
from service.wire.signaling import SeqCounter
from tests._coturn import Coturn, run_coturn
from tests._services import missing_service
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.signaling._hub import TIMEOUTS, assign_officer, counter_running, live_call


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
            "turn_ttl_seconds": 60,
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


@pytest.mark.usefixtures("hub_url")
async def test_a_peer_waiting_in_the_queue_is_prepared_again_before_its_credentials_expire(
    world: World,
    driver: CaseDriver,
    officer_http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # 60 s credentials, re-prepared after 5 % of their life: the relay-only call then connects on the new ones.
    case = await driver.create()
    await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])
    async with counter_running(
        world.device_a, officer_http, case["id"], refresh_after=0.05, report_metrics=False
    ) as counter:
        status, officer = counter.status, counter.officer
        saw = RecorderSink()
        peer: AgentPeer | None = None
        try:
            async with asyncio.timeout(20):
                while status.refreshes < 1:  # noqa: ASYNC110 - CallStatus has no event to wait on
                    await asyncio.sleep(0.05)
            assert status.phase == "waiting_officer"
            await officer.connect()
            peer = AgentPeer(
                build_configuration(officer.ice_servers, relay_only=True),
                CallMedia(receive=frozenset({"video"})),
                sink=saw,
                timeouts=TIMEOUTS,
            )
            await peer.prepare(pre_offer=False)
            await take_call(peer, officer, room=case["id"], seq=SeqCounter())
            await peer.wait_connected()
            await peer.wait_first_frame("video")
            assert peer.metrics().local_candidate == "relay"
        finally:
            if peer is not None:
                await peer.close()
