"""Revoking a device closes its signaling sockets at once, on every replica, and its resume tokens stop working."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Literal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.signaling import HubSignaling, SignalingRefused
from service.accounts.roles import Role
from service.signaling.bus import Subscription
from service.signaling.participants import HubConfig
from service.signaling.rooms import SignalingHub
from service.signaling.tickets import ParticipantRole, TicketClaims, issue_ticket, new_nonce
from service.wire.signaling import ByeMessage, CloseCode, ErrorMessage, JoinedMessage, JoinMessage
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.signaling._hub import assign_officer
from tests.service.signaling.test_replicas import NetworkNode, Socket

SECRET = b"revocation-secret"
ROOM = "case_revoked0000000000000000"
DEVICE = "dev_revokedcounter"


async def _admit(_claims: TicketClaims) -> bool:
    return True


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[SignalingHub, SignalingHub]]:
    """Two hubs sharing one bus network, like two processes on one PostgreSQL."""
    network: dict[str, set[Subscription]] = {}
    config = HubConfig(secret=SECRET, heartbeat_s=5.0, resume_grace_s=5.0)
    hubs = tuple(
        SignalingHub(config, bus=NetworkNode(network), authorize=_admit, ice_for=lambda _p: [])
        for _ in range(2)
    )
    for hub in hubs:
        await hub.start()
    yield hubs[0], hubs[1]
    for hub in hubs:
        await hub.close()


def _ticket(role: ParticipantRole, principal: str) -> str:
    kind: Literal["device", "account"] = "device" if role == "clerk" else "account"
    claims = TicketClaims(ROOM, role, kind, principal, None, None, int(time.time()) + 30, new_nonce())
    return issue_ticket(SECRET, claims)


async def test_revocation_closes_the_device_on_every_replica(
    replicas: tuple[SignalingHub, SignalingHub],
) -> None:
    one, two = replicas
    tasks: list[asyncio.Task[None]] = []

    def serve(hub: SignalingHub, sock: Socket, ticket: str | None) -> asyncio.Task[None]:
        task = asyncio.create_task(hub.serve(sock, ticket=ticket))
        tasks.append(task)
        return task

    try:
        clerk, officer = Socket(), Socket()
        clerk.say(JoinMessage(seq=0, room=ROOM, role="clerk"))
        clerk_served = serve(one, clerk, _ticket("clerk", DEVICE))
        joined = await clerk.next(JoinedMessage)
        assert isinstance(joined, JoinedMessage)
        officer.say(JoinMessage(seq=0, room=ROOM, role="officer"))
        serve(two, officer, _ticket("officer", "acct_officer"))
        await officer.next(JoinedMessage)

        # Revoked through the other replica: the clerk's socket on replica one closes at once.
        await two.revoke(DEVICE)
        refused = await clerk.next(ErrorMessage)
        assert isinstance(refused, ErrorMessage)
        assert refused.code == "revoked"
        async with asyncio.timeout(3):
            await clerk_served
        assert clerk.close_code == CloseCode.FORBIDDEN
        # The officer stays connected and is told why the counter left.
        bye = await officer.next(ByeMessage)
        assert isinstance(bye, ByeMessage)
        assert bye.reason == "revoked"
        assert officer.close_code is None
        assert one.counts().in_grace == 0  # no grace period for a revoked session

        # Neither the resume token nor a fresh ticket brings the device back, on either replica.
        for hub in (one, two):
            resume = Socket()
            resume.say(JoinMessage(seq=0, room=ROOM, role="clerk", resume_token=joined.resume_token))
            await asyncio.wait_for(serve(hub, resume, None), 3)
            assert resume.close_code in (CloseCode.FORBIDDEN, CloseCode.RESUME_REJECTED)
            fresh = Socket()
            fresh.say(JoinMessage(seq=0, room=ROOM, role="clerk"))
            await asyncio.wait_for(serve(hub, fresh, _ticket("clerk", DEVICE)), 3)
            assert fresh.close_code == CloseCode.ROOM_NOT_FOUND
        # Another device of the office still joins.
        other = Socket()
        other.say(JoinMessage(seq=0, room=ROOM, role="clerk"))
        serve(one, other, _ticket("clerk", "dev_anothercounter"))
        assert isinstance(await other.next(JoinedMessage), JoinedMessage)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.usefixtures("hub_url")
async def test_admin_revocation_closes_the_agents_socket_now(
    world: World,
    driver: CaseDriver,
    client: httpx.AsyncClient,
    officer_http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await driver.create()
    await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])
    clerk = HubSignaling(world.device_a, case["id"], role="clerk")
    officer = HubSignaling(officer_http, case["id"], role="officer")
    await clerk.connect()
    await officer.connect()
    try:
        response = await client.post(
            f"/api/v1/devices/{world.a.device_id}/revoke", headers=world.admin_headers
        )
        assert response.status_code == 200, response.text
        started = time.monotonic()

        async def until_refused() -> None:
            async with asyncio.timeout(3):
                while True:
                    await clerk.recv()

        with pytest.raises(SignalingRefused) as refused:
            await until_refused()
        # At once, not at the next heartbeat or request, and final: the agent does not rejoin.
        assert time.monotonic() - started < 1.0
        assert refused.value.close_code == CloseCode.FORBIDDEN
        async with asyncio.timeout(3):
            while not isinstance(msg := await officer.recv(), ByeMessage):
                pass
        assert msg.reason == "revoked"
        # And from its next request on, the device is refused by the REST API too.
        again = await world.device_a.post(f"/api/v1/cases/{case['id']}/signaling-ticket")
        assert again.status_code in (401, 403)
    finally:
        await clerk.close(bye=False)
        await officer.close()
