"""The relay's short path (#18): frames written from the sender's reader keep their order, and no compression."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.signaling.participants import CloseRequest, Participant
from service.wire.signaling import CloseCode, MuteMessage, decode, encode
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.signaling._hub import RawSocket, assign_officer, ticket, ws_url_with


@pytest.fixture
async def case_id(driver: CaseDriver, world: World, sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    """A case of tenant A assigned to A's officer."""
    case = await driver.create()
    await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])
    return str(case["id"])


class Socket:
    """A transport whose socket takes frames at once only while `taking` is set."""

    def __init__(self) -> None:
        self.taking = True
        self.written: list[str] = []

    async def receive(self) -> str | bytes | None:
        return None

    async def send(self, text: str) -> None:
        self.written.append(text)

    def send_now(self, text: str) -> bool:
        if self.taking:
            self.written.append(text)
        return self.taking

    async def close(self, code: int, reason: str) -> None:
        del code, reason

    def admitted(self) -> None:
        """No cap to lift."""

    def take_frames(self, sink: Callable[[str], bool] | None) -> bool:
        """No synchronous frame path: every frame comes through `receive`."""
        del sink
        return False


def _participant(socket: Socket) -> Participant:
    return Participant(
        room="case_x",
        role="officer",
        principal_id="acct_x",
        session="s",
        resume_token="t" * 16,
        ice_servers=[],
        transport=socket,
        outbox_limit=8,
    )


def _mutes(texts: list[str]) -> list[int]:
    return [msg.seq for msg in map(decode, texts) if isinstance(msg, MuteMessage)]


def _mute(seq: int) -> str:
    return MuteMessage(seq=seq, room="case_x", kind="audio", muted=True).model_dump_json()


async def test_a_frame_never_overtakes_one_queued_before_it() -> None:
    """While the socket refuses (its buffer is full), frames queue; once it takes frames again, a new frame still
    waits behind the queued ones instead of being written ahead of them."""
    socket = Socket()
    participant = _participant(socket)
    participant.relay(_mute(0))  # written at once
    socket.taking = False
    participant.relay(_mute(1))
    participant.relay(_mute(2))
    socket.taking = True
    participant.relay(_mute(3))  # the socket would take it, but two frames are ahead of it
    assert _mutes(socket.written) == [0]
    while not participant.outbox.empty():
        item = participant.outbox.get_nowait()
        assert not isinstance(item, CloseRequest)
        await socket.send(item)
    assert _mutes(socket.written) == [0, 1, 2, 3]  # the hub's own numbering, in the order relayed
    participant.relay(_mute(4))  # the queue is empty again: written at once
    assert _mutes(socket.written) == [0, 1, 2, 3, 4]


async def test_the_outbox_limit_still_holds_when_the_socket_refuses() -> None:
    """A client that stops reading is closed once its outbox is full, as before the short path."""
    socket = Socket()
    participant = _participant(socket)
    socket.taking = False
    for seq in range(9):
        participant.relay(_mute(seq))
    assert participant.closing
    assert isinstance(participant.outbox.get_nowait(), CloseRequest)


async def test_the_socket_negotiates_no_compression(
    hub_url: str, client: httpx.AsyncClient, world: World, case_id: str
) -> None:
    """The client offers permessage-deflate (`websockets` and browsers do); the hub declines it, and frames relay."""
    clerk = await RawSocket.open(ws_url_with(await ticket(world.device_a, case_id)))
    officer = await RawSocket.open(ws_url_with(await ticket(client, case_id, world.h("a", Role.officer))))
    for sock in (clerk, officer):
        assert sock.ws.request is not None
        assert "permessage-deflate" in str(sock.ws.request.headers.get("Sec-WebSocket-Extensions"))
        assert sock.ws.response is not None
        assert sock.ws.response.headers.get("Sec-WebSocket-Extensions") is None
    await clerk.join(case_id, "clerk")
    await officer.join(case_id, "officer")
    await clerk.send(MuteMessage(seq=0, room=case_id, kind="video", muted=True))
    got = await officer.recv()
    assert isinstance(got, MuteMessage)
    assert got.kind == "video"
    await clerk.close()
    await officer.close()


async def test_a_burst_relays_in_order_and_a_bad_frame_in_it_is_still_refused(
    hub_url: str, client: httpx.AsyncClient, world: World, case_id: str
) -> None:
    """Frames taken straight from the WebSocket protocol (`take_frames`) and frames that go through the ASGI queue
    keep their order; a stale seq in the middle of a burst is refused, and nothing after it is relayed."""
    clerk = await RawSocket.open(ws_url_with(await ticket(world.device_a, case_id)))
    officer = await RawSocket.open(ws_url_with(await ticket(client, case_id, world.h("a", Role.officer))))
    await clerk.join(case_id, "clerk")
    await officer.join(case_id, "officer")
    frames = [
        encode(MuteMessage(seq=seq, room=case_id, kind="audio", muted=seq % 2 == 0)) for seq in range(1, 31)
    ]
    stale = encode(MuteMessage(seq=20, room=case_id, kind="video", muted=True))
    after = encode(MuteMessage(seq=99, room=case_id, kind="video", muted=False))
    # Sent without waiting in between, so many arrive in one read of the hub's socket.
    for text in [*frames, stale, after]:
        await clerk.send_raw(text)
    relayed = [await officer.recv() for _ in frames]
    assert [(m.kind, m.muted) for m in relayed if isinstance(m, MuteMessage)] == [
        ("audio", seq % 2 == 0) for seq in range(1, 31)
    ]
    closed = await clerk.closed()
    assert (closed.code, closed.errors) == (CloseCode.PROTOCOL_ERROR, ["stale_seq"])
    # The officer hears of the clerk's departure; no video mute, from before or after the stale frame, reaches it.
    with pytest.raises(TimeoutError):
        await _a_video_mute(officer)
    await officer.close()


async def _a_video_mute(sock: RawSocket) -> None:
    while True:
        got = await sock.recv(timeout_s=0.5)
        if isinstance(got, MuteMessage) and got.kind == "video":
            return
