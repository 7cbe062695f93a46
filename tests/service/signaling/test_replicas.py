"""Two SignalingHubs on one shared in-memory bus, as two replicas: presence, relay and resume across them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from service.signaling.bus import MemoryBus, Subscription
from service.signaling.participants import HubConfig
from service.signaling.rooms import SignalingHub
from service.signaling.tickets import ParticipantRole, TicketClaims, issue_ticket, new_nonce
from service.wire.signaling import (
    CloseCode,
    ErrorMessage,
    HeartbeatMessage,
    JoinedMessage,
    JoinMessage,
    OfferMessage,
    SignalingMessage,
    decode,
    encode,
)

SECRET = b"replica-secret"
ROOM = "case_replicas00000000000000"


class NetworkNode(MemoryBus):
    """A MemoryBus whose subscriptions are shared with other nodes: publish reaches every node, like NOTIFY."""

    def __init__(self, network: dict[str, set[Subscription]]) -> None:
        super().__init__()
        self._subscribers = network


class Socket:
    """An in-memory Transport: what the hub sends is decoded and queued; close ends the receive side."""

    def __init__(self) -> None:
        self.to_hub: asyncio.Queue[str | None] = asyncio.Queue()
        self.from_hub: asyncio.Queue[SignalingMessage] = asyncio.Queue()
        self.close_code: int | None = None
        self.seq = 0

    async def receive(self) -> str | bytes | None:
        return await self.to_hub.get()

    async def send(self, text: str) -> None:
        msg = decode(text)
        if not isinstance(msg, HeartbeatMessage):
            await self.from_hub.put(msg)

    def send_now(self, text: str) -> bool:
        """Never at once: every frame goes through the participant's outbox and writer."""
        del text
        return False

    async def close(self, code: int, reason: str) -> None:
        del reason
        self.close_code = code
        self.to_hub.put_nowait(None)

    def admitted(self) -> None:
        """Nothing to lift: this transport has no pre-join cap of its own."""

    def take_frames(self, sink: Callable[[str], bool] | None) -> bool:
        """No synchronous frame path: every frame comes through `receive`."""
        del sink
        return False

    def say(self, msg: SignalingMessage) -> None:
        self.to_hub.put_nowait(encode(msg.model_copy(update={"seq": self.seq})))
        self.seq += 1

    async def next(self, kind: type[SignalingMessage]) -> SignalingMessage:
        async with asyncio.timeout(3):
            while True:
                msg = await self.from_hub.get()
                if isinstance(msg, kind):
                    return msg


async def _admit(_claims: TicketClaims) -> bool:
    return True


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[SignalingHub, SignalingHub]]:
    """Two hubs sharing one bus network (each with its own nonce book, like two processes)."""
    network: dict[str, set[Subscription]] = {}
    config = HubConfig(secret=SECRET, heartbeat_s=5.0, resume_grace_s=2.0)
    hubs = tuple(
        SignalingHub(config, bus=NetworkNode(network), authorize=_admit, ice_for=lambda _p: [])
        for _ in range(2)
    )
    yield hubs[0], hubs[1]
    for hub in hubs:
        await hub.close()


def _ticket(role: ParticipantRole) -> str:
    claims = TicketClaims(
        ROOM, role, "account", f"acct_{role}", None, None, int(time.time()) + 30, new_nonce()
    )
    return issue_ticket(SECRET, claims)


async def test_presence_relay_and_resume_across_replicas(replicas: tuple[SignalingHub, SignalingHub]) -> None:
    one, two = replicas
    tasks: list[asyncio.Task[None]] = []

    def serve(hub: SignalingHub, sock: Socket, ticket: str | None) -> None:
        tasks.append(asyncio.create_task(hub.serve(sock, ticket=ticket)))

    try:
        clerk, officer = Socket(), Socket()
        clerk.say(JoinMessage(seq=0, room=ROOM, role="clerk"))
        serve(one, clerk, _ticket("clerk"))
        first = await clerk.next(JoinedMessage)
        assert isinstance(first, JoinedMessage)
        assert first.peers_present == []

        officer.say(JoinMessage(seq=0, room=ROOM, role="officer"))
        serve(two, officer, _ticket("officer"))
        await officer.next(JoinedMessage)
        # The clerk on replica one learns that the officer arrived on replica two, and vice versa.
        update = await clerk.next(JoinedMessage)
        assert isinstance(update, JoinedMessage)
        assert update.peers_present == ["officer"]
        async with asyncio.timeout(3):
            while True:
                seen = await officer.next(JoinedMessage)
                assert isinstance(seen, JoinedMessage)
                if seen.peers_present == ["clerk"]:
                    officer_token = seen.resume_token
                    break

        clerk.say(OfferMessage(seq=0, room=ROOM, sdp="v=0 offer"))
        offer = await officer.next(OfferMessage)
        assert isinstance(offer, OfferMessage)
        assert offer.sdp == "v=0 offer"

        # The officer's socket to replica two drops; it resumes on replica one within the grace period.
        officer.to_hub.put_nowait(None)
        await asyncio.sleep(0.1)
        assert two.counts().in_grace == 1
        moved = Socket()
        moved.say(JoinMessage(seq=0, room=ROOM, role="officer", resume_token=officer_token))
        serve(one, moved, None)
        resumed = await moved.next(JoinedMessage)
        assert isinstance(resumed, JoinedMessage)
        assert resumed.peers_present == ["clerk"]
        async with asyncio.timeout(3):
            while two.counts().in_grace:  # noqa: ASYNC110 — replica two hears hello and ends the grace
                await asyncio.sleep(0.02)
        clerk.say(OfferMessage(seq=0, room=ROOM, sdp="v=0 again", ice_restart=True))
        again = await moved.next(OfferMessage)
        assert isinstance(again, OfferMessage)
        assert again.ice_restart

        # The spent token is refused on the other replica too: replica two no longer holds the room at all,
        # so only the nonce it burned on hearing hello stands between the replay and the room.
        assert two.counts().rooms == 0
        replay = Socket()
        replay.say(JoinMessage(seq=0, room=ROOM, role="officer", resume_token=officer_token))
        serve(two, replay, None)
        refused = await replay.next(ErrorMessage)
        assert isinstance(refused, ErrorMessage)
        assert refused.code == "resume_rejected"
        async with asyncio.timeout(3):
            await tasks[-1]
        assert replay.close_code == CloseCode.RESUME_REJECTED
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
