"""Agent ↔ an aiortc officer stand-in through the hub under uvicorn, in one process: media flows."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.signaling import HubSignaling
from service.accounts.roles import Role
from service.signaling.rooms import SignalingHub
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.signaling._hub import assign_officer, live_call


async def test_call_through_the_hub_decodes_frames(
    app: object,
    hub_url: str,
    world: World,
    driver: CaseDriver,
    officer_http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await driver.create()
    await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])
    clerk = HubSignaling(world.device_a, case["id"], role="clerk")
    officer = HubSignaling(officer_http, case["id"], role="officer")
    joined = await clerk.connect()
    assert joined.peers_present == []
    assert joined.ice_servers == []  # default: explicitly none, never a public STUN server
    await officer.connect()
    hub: SignalingHub = app.state.signaling  # type: ignore[attr-defined]
    assert hub.counts().participants == 2
    try:
        async with live_call(clerk, officer) as call:
            await call.officer.wait_first_frame("video")
            await call.agent.wait_first_frame("audio")
            async with asyncio.timeout(3):
                while call.officer_saw.frames["video"] < 5:  # noqa: ASYNC110 — the sink has no event
                    await asyncio.sleep(0.02)
            assert {(f.width, f.height) for f in call.officer_saw.video} == {(640, 480)}
            metrics = call.agent.metrics()
            assert metrics.signaling_ms is not None
            assert metrics.dtls_ms is not None
    finally:
        await clerk.close()
        await officer.close()
    async with asyncio.timeout(3):
        while hub.counts().participants:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    # Both said bye: nothing is kept in grace and the room is gone.
    assert hub.counts().in_grace == 0
    assert hub.counts().rooms == 0
