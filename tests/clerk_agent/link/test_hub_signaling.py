"""The agent's signaling client against the hub under uvicorn: signed ticket, join, resume, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.errors import LinkError
from clerk_agent.link.auth import DeviceAuth
from clerk_agent.link.signaling import HubSignaling, SignalingRefused
from service.accounts.roles import Role
from service.config import Settings
from service.wire.signaling import ByeMessage, CloseCode, MuteMessage
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.signaling._hub import assign_officer, serving


@pytest.fixture
async def case_id(driver: CaseDriver, world: World, sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    """A case of tenant A assigned to A's officer."""
    case = await driver.create()
    await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])
    return str(case["id"])


@pytest.fixture
async def device_http(hub_url: str, world: World) -> AsyncIterator[httpx.AsyncClient]:
    """Tenant A's device over real HTTP, every request signed (clerk_agent/link/auth.py)."""
    async with httpx.AsyncClient(
        base_url=hub_url, auth=DeviceAuth(world.a.device_id, world.a.device_key)
    ) as c:
        yield c


async def _mute_passes(sender: HubSignaling, receiver: HubSignaling, *, muted: bool) -> None:
    await sender.send(MuteMessage(seq=0, room=sender.case_id, kind="video", muted=muted))
    async with asyncio.timeout(3):
        got = await receiver.recv()
    assert isinstance(got, MuteMessage)
    assert got.muted is muted


async def test_signed_ticket_join_and_relay(
    device_http: httpx.AsyncClient, officer_http: httpx.AsyncClient, case_id: str
) -> None:
    async with (
        HubSignaling(device_http, case_id, role="clerk") as clerk,
        HubSignaling(officer_http, case_id, role="officer") as officer,
    ):
        assert clerk.joined is not None
        assert clerk.joined.role == "clerk"
        await clerk.wait_for_peer(3)
        await officer.wait_for_peer(3)
        await _mute_passes(clerk, officer, muted=True)
        await _mute_passes(officer, clerk, muted=False)
        # Heartbeats keep both sockets open past the hub's timeout (2 × 1 s in these tests).
        await asyncio.sleep(2.5)
        await _mute_passes(clerk, officer, muted=False)
    # Leaving with bye, the clerk's hangup reached the officer before its socket closed.


async def test_rejoins_with_the_resume_token_after_a_drop(
    app: object, settings: Settings, world: World, officer_http: httpx.AsyncClient, case_id: str
) -> None:
    clerk = HubSignaling(world.device_a, case_id, role="clerk")
    officer = HubSignaling(officer_http, case_id, role="officer")
    try:
        async with serving(app, settings.port):
            await clerk.connect()
            await officer.connect()
            first_token = clerk.joined.resume_token if clerk.joined else ""
        # The hub's socket layer restarted under both participants (its rooms stayed): a drop for each,
        # shorter than the grace period, so both rejoin their sessions with the resume token.
        async with serving(app, settings.port):
            await _mute_passes(clerk, officer, muted=True)
            await _mute_passes(officer, clerk, muted=False)
            assert (clerk.reconnects, officer.reconnects) == (1, 1)
            assert clerk.joined is not None
            assert clerk.joined.resume_token != first_token
    finally:
        await clerk.close(bye=False)
        await officer.close(bye=False)


async def test_peer_gone_after_the_grace_period(
    hub_url: str, world: World, officer_http: httpx.AsyncClient, case_id: str, settings: Settings
) -> None:
    async with HubSignaling(world.device_a, case_id, role="clerk") as clerk:
        officer = HubSignaling(officer_http, case_id, role="officer")
        await officer.connect()
        await clerk.wait_for_peer(3)
        await officer.close(bye=False)  # gone without a word: the hub waits the grace period, then tells
        async with asyncio.timeout(settings.signaling_resume_grace_seconds + 3):
            got = await clerk.recv()
        assert isinstance(got, ByeMessage)
        assert got.reason == "timeout"
        with pytest.raises(LinkError, match="did not join"):
            await clerk.wait_for_peer(0.2)


async def test_a_foreign_case_is_refused(hub_url: str, world: World, case_id: str) -> None:
    channel = HubSignaling(world.device_b, case_id, role="clerk")
    with pytest.raises(SignalingRefused):
        await channel.connect()


async def test_a_newer_join_replaces_the_older_socket(hub_url: str, world: World, case_id: str) -> None:
    older = HubSignaling(world.device_a, case_id, role="clerk")
    newer = HubSignaling(world.device_a, case_id, role="clerk")
    await older.connect()
    try:
        await newer.connect()
        async with asyncio.timeout(3):
            with pytest.raises(SignalingRefused) as refused:
                await older.recv()
        assert refused.value.close_code == CloseCode.REPLACED
    finally:
        await older.close(bye=False)
        await newer.close()
