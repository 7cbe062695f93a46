"""Hostile signaling is refused with the right close code while another room's call keeps going."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.exceptions import ConnectionClosed, InvalidStatus

from service.accounts.roles import Role
from service.config import Settings
from service.signaling.rooms import SignalingHub
from service.signaling.router import origin_allowed
from service.signaling.tickets import TicketClaims, issue_ticket, new_nonce
from service.wire.signaling import (
    MAX_JOIN_FRAME_BYTES,
    AnswerMessage,
    ByeMessage,
    CloseCode,
    ErrorMessage,
    JoinMessage,
    MuteMessage,
    OfferMessage,
    RenegotiateMessage,
    SignalingMessage,
)
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.signaling._hub import RawSocket, assign_officer, ticket, ws_url_with


@dataclass
class Pair:
    """A clerk and an officer joined to one room, exchanging frames."""

    room: str
    clerk: RawSocket
    officer: RawSocket

    async def still_relays(self) -> None:
        """Both directions still carry a frame (the hub kept serving this room)."""
        await self.clerk.send(MuteMessage(seq=0, room=self.room, kind="audio", muted=True))
        got = await self.officer.recv()
        assert isinstance(got, MuteMessage)
        assert got.muted
        await self.officer.send(MuteMessage(seq=0, room=self.room, kind="audio", muted=False))
        back = await self.clerk.recv()
        assert isinstance(back, MuteMessage)
        assert not back.muted


@pytest.fixture
async def cases(
    driver: CaseDriver, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> list[str]:
    """Two cases of tenant A, both assigned to A's officer."""
    ids = []
    for _ in range(2):
        case = await driver.create()
        await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])
        ids.append(str(case["id"]))
    return ids


async def _joined(
    client: httpx.AsyncClient, case_id: str, role: str, headers: dict[str, str] | None = None
) -> RawSocket:
    body = await ticket(client, case_id, headers)
    sock = await RawSocket.open(ws_url_with(body))
    await sock.join(case_id, role)
    return sock


@pytest.fixture
async def bystanders(
    hub_url: str, client: httpx.AsyncClient, world: World, cases: list[str]
) -> AsyncIterator[Pair]:
    """Another room's call in progress (the second case): it must keep working through every attack."""
    room = cases[1]
    clerk = await _joined(world.device_a, room, "clerk")
    officer = await _joined(client, room, "officer", world.h("a", Role.officer))
    pair = Pair(room, clerk, officer)
    await pair.still_relays()
    yield pair
    await clerk.close()
    await officer.close()


async def test_oversize_frame(hub_url: str, world: World, cases: list[str], bystanders: Pair) -> None:
    sock = await _joined(world.device_a, cases[0], "clerk")
    await sock.send_raw(json.dumps({"seq": 5, "type": "offer", "room": cases[0], "sdp": "v=0 " * 20_000}))
    closed = await sock.closed()
    assert closed.code == CloseCode.MESSAGE_TOO_BIG
    assert closed.errors == ["oversize"]
    await bystanders.still_relays()


@pytest.mark.parametrize(
    ("raw", "code", "close"),
    [
        ("{not json", "malformed_json", CloseCode.INVALID_PAYLOAD),
        ('{"seq": 1, "type": "teleport"}', "unknown_type", CloseCode.PROTOCOL_ERROR),
        ('{"seq": "1", "type": "heartbeat"}', "schema_mismatch", CloseCode.PROTOCOL_ERROR),
        ('{"seq": 0, "type": "heartbeat"}', "stale_seq", CloseCode.PROTOCOL_ERROR),
    ],
)
async def test_malformed_frames(
    hub_url: str, world: World, cases: list[str], bystanders: Pair, raw: str, code: str, close: int
) -> None:
    sock = await _joined(world.device_a, cases[0], "clerk")
    await sock.send_raw(raw)
    closed = await sock.closed()
    assert (closed.code, closed.errors) == (close, [code])
    await bystanders.still_relays()


async def test_ticket_for_another_room(
    hub_url: str, world: World, cases: list[str], bystanders: Pair
) -> None:
    body = await ticket(world.device_a, cases[0])
    sock = await RawSocket.open(ws_url_with(body))
    await sock.send(JoinMessage(seq=0, room=bystanders.room, role="clerk"))
    closed = await sock.closed()
    assert (closed.code, closed.errors) == (CloseCode.ROOM_NOT_FOUND, ["room_not_found"])
    await bystanders.still_relays()


async def test_frame_naming_another_room(
    hub_url: str, world: World, cases: list[str], bystanders: Pair
) -> None:
    sock = await _joined(world.device_a, cases[0], "clerk")
    await sock.send(OfferMessage(seq=0, room=bystanders.room, sdp="v=0"))
    closed = await sock.closed()
    assert (closed.code, closed.errors) == (CloseCode.ROOM_NOT_FOUND, ["room_not_found"])
    # Nothing reached the other room's officer.
    await bystanders.still_relays()


async def test_another_tenants_case(
    hub_url: str,
    client: httpx.AsyncClient,
    world: World,
    cases: list[str],
    bystanders: Pair,
    settings: Settings,
) -> None:
    # Tenant B's device and officer cannot get a ticket for A's case: the same 404 as a missing case.
    assert (await world.device_b.post(f"/api/v1/cases/{cases[0]}/signaling-ticket")).status_code == 404
    response = await client.post(
        f"/api/v1/cases/{cases[0]}/signaling-ticket", headers=world.h("b", Role.officer)
    )
    assert response.status_code == 404
    assert cases[0] not in response.text
    # A ticket forged for A's case (B's device, signed with a guessed key) is refused at the socket.
    claims = TicketClaims(
        cases[0], "clerk", "device", world.b.device_id, None, world.b.post_office_id, 2**31, new_nonce()
    )
    forged = issue_ticket(b"not-the-hub-secret", claims)
    url = settings.origin.replace("http://", "ws://") + f"/api/v1/signaling?ticket={forged}"
    sock = await RawSocket.open(url)
    await sock.send(JoinMessage(seq=0, room=cases[0], role="clerk"))
    closed = await sock.closed()
    assert (closed.code, closed.errors) == (CloseCode.UNAUTHENTICATED, ["ticket_rejected"])
    # A genuine ticket of B's own case does not open A's room either.
    await bystanders.still_relays()


async def test_tampered_ticket(hub_url: str, world: World, cases: list[str], bystanders: Pair) -> None:
    body = await ticket(world.device_a, cases[0])
    payload, mac = body["ticket"].split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded[0] = bystanders.room  # point the genuine ticket at another room
    tampered = (
        base64.urlsafe_b64encode(json.dumps(decoded, separators=(",", ":")).encode()).decode().rstrip("=")
    )
    sock = await RawSocket.open(f"{body['ws_url']}?ticket={tampered}.{mac}")
    await sock.send(JoinMessage(seq=0, room=bystanders.room, role="clerk"))
    closed = await sock.closed()
    assert (closed.code, closed.errors) == (CloseCode.UNAUTHENTICATED, ["ticket_rejected"])
    await bystanders.still_relays()


async def test_replayed_ticket(hub_url: str, world: World, cases: list[str], bystanders: Pair) -> None:
    body = await ticket(world.device_a, cases[0])
    first = await RawSocket.open(ws_url_with(body))
    await first.join(cases[0], "clerk")
    replay = await RawSocket.open(ws_url_with(body))
    await replay.send(JoinMessage(seq=0, room=cases[0], role="clerk"))
    closed = await replay.closed()
    assert (closed.code, closed.errors) == (CloseCode.UNAUTHENTICATED, ["ticket_used"])
    await first.close()
    await bystanders.still_relays()


async def test_no_ticket_and_no_join(
    hub_url: str, settings: Settings, cases: list[str], bystanders: Pair
) -> None:
    url = settings.origin.replace("http://", "ws://") + "/api/v1/signaling"
    sock = await RawSocket.open(url)
    await sock.send(JoinMessage(seq=0, room=cases[0], role="clerk"))
    assert (await sock.closed()).code == CloseCode.UNAUTHENTICATED
    sock = await RawSocket.open(url)
    await sock.send(MuteMessage(seq=0, room=cases[0], kind="audio", muted=True))
    closed = await sock.closed()
    assert (closed.code, closed.errors) == (CloseCode.PROTOCOL_ERROR, ["join_required"])
    await bystanders.still_relays()


async def test_replayed_resume_token(
    hub_url: str,
    client: httpx.AsyncClient,
    world: World,
    cases: list[str],
    bystanders: Pair,
    settings: Settings,
) -> None:
    sock = await _joined(world.device_a, cases[0], "clerk")
    body = await ticket(world.device_a, cases[0])
    fresh = await RawSocket.open(ws_url_with(body))
    joined = await fresh.join(cases[0], "clerk")  # replaces `sock`
    assert (await sock.closed()).code == CloseCode.REPLACED
    joined_token = joined.resume_token
    fresh.drop()
    url = settings.origin.replace("http://", "ws://") + "/api/v1/signaling"
    resumed = await RawSocket.open(url)
    again = await resumed.join(cases[0], "clerk", resume_token=joined_token)
    assert again.resume_token != joined_token
    replay = await RawSocket.open(url)
    await replay.send(JoinMessage(seq=0, room=cases[0], role="clerk", resume_token=joined_token))
    closed = await replay.closed()
    assert (closed.code, closed.errors) == (CloseCode.RESUME_REJECTED, ["resume_rejected"])
    # A token minted for one room does not open another.
    other = await RawSocket.open(url)
    await other.send(JoinMessage(seq=0, room=bystanders.room, role="clerk", resume_token=again.resume_token))
    assert (await other.closed()).code == CloseCode.RESUME_REJECTED
    await resumed.close()
    await bystanders.still_relays()


async def test_flood_is_rate_limited(
    app: object, hub_url: str, world: World, cases: list[str], bystanders: Pair, settings: Settings
) -> None:
    sock = await _joined(world.device_a, cases[0], "clerk")
    burst = settings.signaling_rate_burst
    for _ in range(burst * 3):
        try:
            await sock.send(MuteMessage(seq=0, room=cases[0], kind="video", muted=True))
        except ConnectionClosed:
            break  # the hub closed it mid-flood
    closed = await sock.closed()
    assert (closed.code, closed.errors) == (CloseCode.RATE_LIMITED, ["rate_limited"])
    await bystanders.still_relays()


async def test_silent_socket_times_out(
    hub_url: str, world: World, cases: list[str], bystanders: Pair, settings: Settings
) -> None:
    sock = await _joined(world.device_a, cases[0], "clerk")
    # The hub's own heartbeats keep arriving, but this client never answers; the other room keeps talking.
    closing = asyncio.create_task(sock.closed(timeout_s=4 * settings.signaling_heartbeat_seconds))
    while not closing.done():
        await bystanders.still_relays()
        await asyncio.wait({closing}, timeout=0.3)
    closed = closing.result()
    assert (closed.code, closed.errors) == (CloseCode.HEARTBEAT_TIMEOUT, ["heartbeat_timeout"])
    await bystanders.still_relays()


async def test_other_participants_of_the_case_are_404(
    client: httpx.AsyncClient, world: World, cases: list[str]
) -> None:
    for role in (Role.supervisor, Role.clerk):
        response = await client.post(f"/api/v1/cases/{cases[0]}/signaling-ticket", headers=world.h("a", role))
        assert response.status_code == 404, (role, response.text)
    assert (
        await client.post(f"/api/v1/cases/{cases[0]}/signaling-ticket", headers=world.h("a", Role.auditor))
    ).status_code == 403


async def test_bye_reaches_the_peer_and_hub_is_left_clean(
    app: object, hub_url: str, bystanders: Pair
) -> None:
    await bystanders.clerk.send(ByeMessage(seq=0, room=bystanders.room))
    got = await bystanders.officer.recv()
    assert isinstance(got, ByeMessage)
    await bystanders.clerk.close()
    hub: SignalingHub = app.state.signaling  # type: ignore[attr-defined]
    async with asyncio.timeout(3):
        while hub.counts().participants != 1:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    assert hub.counts().in_grace == 0  # a participant that said bye is not waited for
    assert not isinstance(got, ErrorMessage)


# ---- issue #12: Origin, the pre-join buffer, frames of the other role ------------------------------------


async def test_a_foreign_origin_is_refused_before_the_handshake(
    hub_url: str, world: World, cases: list[str], settings: Settings, bystanders: Pair
) -> None:
    """The hub took any Origin: another site's page could drive an officer's socket. Now HTTP 403, no socket."""
    body = await ticket(world.device_a, cases[0])
    with pytest.raises(InvalidStatus) as refused:
        await RawSocket.open(ws_url_with(body), origin="http://evil.example")
    assert refused.value.response.status_code == 403
    assert b"origin_not_allowed" in refused.value.response.body
    # The same ticket (never spent: nothing was accepted) opens the room from the hub's own origin.
    sock = await RawSocket.open(ws_url_with(body), origin=settings.origin)
    await sock.join(cases[0], "clerk")
    await sock.close()
    await bystanders.still_relays()


@pytest.mark.parametrize(
    ("origin", "public", "allowed"),
    [
        (None, "https://hub.example", True),  # the clerk agent: not a browser, no Origin
        ("https://hub.example", "https://hub.example", True),
        ("https://HUB.example:443", "https://hub.example/", True),
        ("http://hub.example", "https://hub.example", False),
        ("https://hub.example:8443", "https://hub.example", False),
        ("https://hub.example.evil.test", "https://hub.example", False),
        ("null", "https://hub.example", False),
        ("https://hub.example", "", False),
    ],
)
def test_origin_rule(origin: str | None, public: str, allowed: bool) -> None:
    assert origin_allowed(origin, public) is allowed


@pytest.mark.parametrize("size", [MAX_JOIN_FRAME_BYTES + 1, 1024 * 1024])
async def test_before_joining_a_socket_may_send_only_a_small_frame(
    hub_url: str, world: World, cases: list[str], bystanders: Pair, size: int
) -> None:
    """uvicorn's 16 MiB were buffered for a socket nobody had admitted, and decoded by the hub. Now the
    WebSocket layer itself cuts anything over 4 KiB before a join (1009, no error frame from the hub)."""
    body = await ticket(world.device_a, cases[0])
    sock = await RawSocket.open(ws_url_with(body))
    with contextlib.suppress(ConnectionClosed):
        await sock.send_raw(
            json.dumps({"seq": 0, "type": "join", "room": cases[0], "role": "clerk", "x": "y" * size})
        )
    closed = await sock.closed()
    assert (closed.code, closed.errors) == (CloseCode.MESSAGE_TOO_BIG, [])
    await bystanders.still_relays()


async def test_after_joining_frames_up_to_the_wire_cap_pass(
    hub_url: str, client: httpx.AsyncClient, world: World, cases: list[str]
) -> None:
    """The small pre-join cap is lifted on admission: a 40 KiB offer still reaches the officer."""
    clerk = await _joined(world.device_a, cases[0], "clerk")
    officer = await _joined(client, cases[0], "officer", world.h("a", Role.officer))
    sdp = "v=0\r\n" + "a=x\r\n" * 8000
    await clerk.send(OfferMessage(seq=0, room=cases[0], sdp=sdp))
    got = await officer.recv()
    assert isinstance(got, OfferMessage)
    assert got.sdp == sdp
    await clerk.close()
    await officer.close()


def _frame_of(kind: str, room: str) -> SignalingMessage:
    frames: dict[str, SignalingMessage] = {
        "offer": OfferMessage(seq=0, room=room, sdp="v=0"),
        "answer": AnswerMessage(seq=0, room=room, sdp="v=0"),
        "renegotiate": RenegotiateMessage(seq=0, room=room, reason="spoofed"),
        "error": ErrorMessage(seq=0, room=room, code="revoked", detail="spoofed by the peer"),
    }
    return frames[kind]


@pytest.mark.parametrize(
    ("role", "kind", "close", "code"),
    [
        ("clerk", "answer", CloseCode.FORBIDDEN, "wrong_role"),
        ("clerk", "renegotiate", CloseCode.FORBIDDEN, "wrong_role"),
        ("officer", "offer", CloseCode.FORBIDDEN, "wrong_role"),
        ("officer", "error", CloseCode.PROTOCOL_ERROR, "unexpected_type"),
        ("clerk", "error", CloseCode.PROTOCOL_ERROR, "unexpected_type"),
    ],
)
async def test_a_frame_of_the_other_role_is_refused_and_not_relayed(
    hub_url: str,
    client: httpx.AsyncClient,
    world: World,
    cases: list[str],
    bystanders: Pair,
    role: str,
    kind: str,
    close: int,
    code: str,
) -> None:
    """The relay passed any frame type from either side (an officer's offer, a peer's forged hub error)."""
    officer_headers = world.h("a", Role.officer)
    clerk = await _joined(world.device_a, cases[0], "clerk")
    officer = await _joined(client, cases[0], "officer", officer_headers)
    sender, receiver = (clerk, officer) if role == "clerk" else (officer, clerk)
    await sender.send(_frame_of(kind, cases[0]))
    closed = await sender.closed()
    assert (closed.code, closed.errors) == (close, [code])
    # The refused frame never reached the other side: the next frame it gets is from the sender's successor.
    if role == "clerk":
        successor = await _joined(world.device_a, cases[0], "clerk")
    else:
        successor = await _joined(client, cases[0], "officer", officer_headers)
    await successor.send(MuteMessage(seq=0, room=cases[0], kind="audio", muted=True))
    got = await receiver.recv()
    assert isinstance(got, MuteMessage), got
    await successor.close()
    await receiver.close()
    await bystanders.still_relays()
