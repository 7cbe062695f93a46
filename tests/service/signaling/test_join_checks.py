"""A ticket's join: the shared book and the membership check run together, and every verdict still holds.

The two database round trips of a join (the shared single-use book, the participant's membership) run at once
(#18); these check with stand-ins for both that they do, that both finish before any verdict, and that each
verdict is the one it was: a ticket spent elsewhere is refused as used even for a member, a non-member is
refused and the ticket is spent all the same, a ticket for another room or role is refused and spent too.
"""

from __future__ import annotations

import asyncio
import time

from service.signaling.bus import MemoryBus
from service.signaling.participants import HubConfig
from service.signaling.rooms import SignalingHub
from service.signaling.tickets import ParticipantRole, TicketClaims, issue_ticket, new_nonce
from service.wire.signaling import CloseCode, ErrorMessage, JoinedMessage, JoinMessage
from tests.service.signaling.test_replicas import Socket

SECRET = b"join-checks-secret"
ROOM = "case_joinchecks0000000000000"


class Books:
    """Stand-ins for the shared book and the membership check, recording what they were asked."""

    def __init__(self, *, member: bool = True, spent_elsewhere: bool = False) -> None:
        self.member = member
        self.spent_elsewhere = spent_elsewhere
        self.spent: list[str] = []
        self.asked: list[str] = []
        self._both_started = asyncio.Event()
        self._started = 0

    async def _meet(self) -> None:
        # Each waits for the other to have started: run one after the other, a join would never finish.
        self._started += 1
        if self._started == 2:
            self._both_started.set()
        await self._both_started.wait()

    async def spend(self, nonce: str, expires_at: int) -> bool:
        del expires_at
        await self._meet()
        self.spent.append(nonce)
        return not self.spent_elsewhere

    async def authorize(self, claims: TicketClaims) -> bool:
        await self._meet()
        self.asked.append(claims.principal_id)
        return self.member


def _hub(books: Books) -> SignalingHub:
    return SignalingHub(
        HubConfig(secret=SECRET),
        bus=MemoryBus(),
        authorize=books.authorize,
        ice_for=lambda _p: [],
        spend_ticket=books.spend,
    )


def _ticket(role: ParticipantRole = "officer", room: str = ROOM) -> tuple[str, str]:
    nonce = new_nonce()
    claims = TicketClaims(room, role, "account", "acct_officer", None, None, int(time.time()) + 30, nonce)
    return issue_ticket(SECRET, claims), nonce


async def _join(
    hub: SignalingHub, ticket: str, *, role: ParticipantRole = "officer"
) -> tuple[Socket, object]:
    sock = Socket()
    sock.say(JoinMessage(seq=0, room=ROOM, role=role))
    task = asyncio.create_task(hub.serve(sock, ticket=ticket))
    async with asyncio.timeout(3):  # a guard against a hang, not a measurement
        first = await sock.from_hub.get()
    if not isinstance(first, JoinedMessage):
        async with asyncio.timeout(3):
            await task
    else:
        sock.to_hub.put_nowait(None)
        async with asyncio.timeout(3):
            await task
    return sock, first


async def test_a_member_with_a_fresh_ticket_joins_after_both_checks() -> None:
    books = Books()
    hub = _hub(books)
    ticket, nonce = _ticket()
    try:
        _, first = await _join(hub, ticket)
        assert isinstance(first, JoinedMessage)
        assert books.spent == [nonce]
        assert books.asked == ["acct_officer"]
    finally:
        await hub.close()


async def test_a_ticket_spent_on_another_replica_is_refused_even_for_a_member() -> None:
    books = Books(spent_elsewhere=True)
    hub = _hub(books)
    ticket, _ = _ticket()
    try:
        sock, first = await _join(hub, ticket)
        assert isinstance(first, ErrorMessage)
        assert first.code == "ticket_used"
        assert sock.close_code == CloseCode.UNAUTHENTICATED
    finally:
        await hub.close()


async def test_a_non_member_is_refused_and_the_ticket_is_spent_all_the_same() -> None:
    books = Books(member=False)
    hub = _hub(books)
    ticket, nonce = _ticket()
    try:
        sock, first = await _join(hub, ticket)
        assert isinstance(first, ErrorMessage)
        assert first.code == "room_not_found"
        assert sock.close_code == CloseCode.ROOM_NOT_FOUND
        assert books.spent == [nonce]
        # Replayed on this replica: refused as used before either database check is asked again.
        sock, first = await _join(hub, ticket)
        assert isinstance(first, ErrorMessage)
        assert first.code == "ticket_used"
        assert books.spent == [nonce]
        assert len(books.asked) == 1
    finally:
        await hub.close()


async def test_a_ticket_for_another_room_or_role_is_refused_and_spent() -> None:
    books = Books()
    hub = _hub(books)
    other_room, other_nonce = _ticket(room="case_joinchecksother000000000")
    clerk_ticket, clerk_nonce = _ticket(role="clerk")
    try:
        sock, first = await _join(hub, other_room)
        assert isinstance(first, ErrorMessage)
        assert first.code == "room_not_found"
        assert sock.close_code == CloseCode.ROOM_NOT_FOUND
        sock, first = await _join(hub, clerk_ticket)  # a clerk's ticket, joined as the officer
        assert isinstance(first, ErrorMessage)
        assert first.code == "wrong_role"
        assert sock.close_code == CloseCode.FORBIDDEN
        assert books.spent == [other_nonce, clerk_nonce]
    finally:
        await hub.close()
