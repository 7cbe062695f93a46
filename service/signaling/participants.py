"""The pieces of a signaling room: the socket protocol, a joined participant, this node's view of a room."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol

from service.signaling.tickets import ParticipantRole, TicketClaims
from service.wire.signaling import (
    CloseCode,
    IceServer,
    SeqCounter,
    SeqGuard,
    SignalingMessage,
    WireError,
    decode,
    encode,
)


class Transport(Protocol):
    """One accepted WebSocket, as the hub needs it."""

    async def receive(self) -> str | bytes | None:
        """The next message; None once the client has gone."""

    async def send(self, text: str) -> None:
        """Send one text message."""

    def send_now(self, text: str) -> bool:
        """Send one text message now, if the socket takes it without waiting; False: nothing was sent."""

    async def close(self, code: int, reason: str) -> None:
        """Close with a WebSocket close code."""

    def admitted(self) -> None:
        """The socket joined a room: lift the small cap on what it may send before that."""

    def take_frames(self, sink: Callable[[str], bool] | None) -> bool:
        """Hand each further text frame to `sink` as it arrives, before `receive` (None: stop); False: unsupported.

        A frame the sink refuses (returns False) is queued for `receive` as usual, in order.
        """


Authorize = Callable[[TicketClaims], Awaitable[bool]]
"""Whether the ticket's principal still belongs in the room (a short database check at join)."""
SpendTicket = Callable[[str, int], Awaitable[bool]]
"""Record a ticket's nonce where every replica sees it; False when it was already used (on any replica)."""
IceFor = Callable[[str], list[IceServer]]
"""The ICE servers, with freshly minted TURN credentials, of one principal."""


@dataclass(frozen=True)
class HubConfig:
    """Limits and timings of the signaling hub."""

    secret: bytes
    resume_grace_s: float = 20.0
    heartbeat_s: float = 15.0
    rate_per_s: float = 20.0
    rate_burst: int = 60
    relay_only: bool = False
    join_timeout_s: float = 10.0
    outbox_limit: int = 256
    # A socket that carries `Origin` (a browser's) must come from here; empty: no browser socket is admitted.
    public_origin: str = ""


@dataclass(frozen=True)
class HubCounts:
    """What the hub holds right now (for tests and the load bench)."""

    rooms: int
    participants: int
    in_grace: int


class Refusal(Exception):
    """A frame or a join the hub refuses: an error frame, then a close with `close_code`."""

    def __init__(self, close_code: CloseCode, code: str, detail: str, ref_seq: int | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.close_code = close_code
        self.code = code
        self.detail = detail
        self.ref_seq = ref_seq

    @classmethod
    def from_wire(cls, exc: WireError) -> Refusal:
        """The refusal of a frame the wire codec rejected."""
        return cls(exc.close_code, exc.code.value, exc.detail)


class Disconnected(Exception):
    """The client went away before joining."""


@dataclass(frozen=True)
class CloseRequest:
    """Queued behind the frames already in a participant's outbox: the writer closes the socket with it."""

    code: int
    reason: str


class Participant:
    """One joined socket: its slot in the room, its outgoing queue and its own outgoing numbering."""

    def __init__(
        self,
        *,
        room: str,
        role: ParticipantRole,
        principal_id: str,
        session: str,
        resume_token: str,
        ice_servers: list[IceServer],
        transport: Transport,
        outbox_limit: int,
    ) -> None:
        self.room = room
        self.role = role
        self.principal_id = principal_id
        self.session = session
        self.resume_token = resume_token
        self.ice_servers = ice_servers
        self.transport = transport
        self.outbox: asyncio.Queue[str | CloseRequest] = asyncio.Queue()
        self.known_peers: frozenset[ParticipantRole] = frozenset()
        self.left = False
        self.replaced = False
        self.revoked = False
        self.last_received = self.last_sent = time.monotonic()
        # The resume token this session was opened with: other replicas burn it too when they hear hello.
        self.resumed_from: str | None = None
        self.closing = False
        # The hub is this socket's only sender, so it numbers every frame it sends, relayed ones included.
        self._seq = SeqCounter()
        self._limit = outbox_limit

    def emit(self, msg: SignalingMessage) -> None:
        """Queue a frame of the hub's own."""
        self._put(encode(msg.model_copy(update={"seq": self._seq.next()})))

    def relay(self, canonical: str) -> None:
        """Queue a relayed frame, renumbered (the text is the hub's own encoding, so `seq` is its first key)."""
        _, _, rest = canonical.partition(",")
        self._put(f'{{"seq":{self._seq.next()},{rest}')

    def next_seq(self) -> int:
        """The seq of a frame the writer makes itself (heartbeats)."""
        return self._seq.next()

    def request_close(self, code: CloseCode, reason: str) -> None:
        """Close after the frames already queued (an error frame goes out before the close)."""
        if self.closing:
            return
        self.closing = True
        self.outbox.put_nowait(CloseRequest(int(code), reason))

    def _put(self, text: str) -> None:
        if self.closing:
            return
        # Nothing queued, so nothing can be ahead of this frame (the writer is either idle or suspended in a
        # send that `send_now` then refuses): written at once, with no task switch to the writer (#18).
        if self.outbox.empty() and self.transport.send_now(text):
            self.last_sent = time.monotonic()
            return
        if self.outbox.qsize() >= self._limit:
            # A client that stops reading must not grow the hub's memory without bound.
            while not self.outbox.empty():
                self.outbox.get_nowait()
            self.request_close(CloseCode.POLICY_VIOLATION, "not reading its frames")
            return
        self.outbox.put_nowait(text)


class RoomState:
    """This node's view of one room."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.local: dict[ParticipantRole, Participant] = {}
        self.dropped: dict[ParticipantRole, tuple[str, asyncio.Task[None]]] = {}
        self.remote: dict[ParticipantRole, str] = {}
        # The session each role holds now, wherever it is: a resume token of an older session is refused.
        self.current: dict[ParticipantRole, str] = {}
        self.ready = asyncio.Event()
        self.broken = False
        self.listener: asyncio.Task[None] | None = None

    def present(self) -> set[ParticipantRole]:
        return set(self.local) | set(self.dropped) | set(self.remote)

    def idle(self) -> bool:
        return not self.local and not self.dropped


def make_envelope(
    node: str,
    kind: str,
    role: ParticipantRole,
    *,
    session: str | None = None,
    burned: str | None = None,
    frame: str | None = None,
    bye: bool = False,
    why: str | None = None,
) -> str:
    """One bus message: a relayed frame, or presence news (hello, here, gone) of one role's session."""
    envelope = {"n": node, "k": kind, "r": role, "s": session, "b": burned, "f": frame, "bye": bye}
    if why is not None:
        envelope["why"] = why  # why a session ended without its own bye (e.g. "revoked")
    return json.dumps(envelope, separators=(",", ":"))


FRAME_ENVELOPE: Final = "F"
"""First character of a relayed frame's bus message; every other message is a JSON object (`{`)."""


def frame_envelope(role: ParticipantRole, frame: str) -> str:
    """The bus message of one relayed frame: the sender's role, a newline, the frame's canonical text.

    Not JSON: embedding the frame in a JSON object escaped every quote of it on the way out and parsed it again on
    the way in, which was a third of the hub's own CPU per frame (#18). The canonical encoding has no newline and
    the role none either, so the first newline ends the header.
    """
    return f"{FRAME_ENVELOPE}{role}\n{frame}"


def decode_checked(raw: str | bytes, guard: SeqGuard) -> SignalingMessage:
    """Decode one frame and check its seq; a Refusal carrying the wire error's close code otherwise."""
    try:
        msg = decode(raw)
        guard.check(msg)
    except WireError as exc:
        raise Refusal.from_wire(exc) from exc
    return msg
