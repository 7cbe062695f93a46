"""The agent's signaling socket to the hub: a `SignalingChannel` (clerk_agent/rtc/channel.py) over WebSocket.

Flow: POST the case's signaling ticket (clerk_agent/link/client.py) with the signed device client, connect to `ws_url?ticket=…`,
send `join`, receive `joined` (resume token, ICE servers, heartbeat). A dropped socket is rejoined with the
resume token inside the hub's grace period; a refusal (wrong room, rate limit, replaced…) ends the channel.
The channel numbers every frame it sends, heartbeats included, so a caller's `seq` is replaced on send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Final, Literal, Self

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from clerk_agent.errors import LinkError
from clerk_agent.link.client import signaling_ticket_path
from clerk_agent.link.hub import tls_of
from service.wire.calls import SignalingTicket
from service.wire.signaling import (
    MAX_FRAME_BYTES,
    ByeMessage,
    CloseCode,
    ErrorMessage,
    HeartbeatMessage,
    IceServer,
    JoinedMessage,
    JoinMessage,
    SeqCounter,
    SeqGuard,
    SignalingMessage,
    WireError,
    decode,
    encode,
)

logger = logging.getLogger(__name__)

ParticipantRole = Literal["clerk", "officer"]

# Codes after which rejoining cannot help (the hub refused this participant or its frames).
_FINAL: Final = frozenset(
    {
        CloseCode.NORMAL,
        CloseCode.INVALID_PAYLOAD,
        CloseCode.POLICY_VIOLATION,
        CloseCode.MESSAGE_TOO_BIG,
        CloseCode.PROTOCOL_ERROR,
        CloseCode.UNAUTHENTICATED,
        CloseCode.FORBIDDEN,
        CloseCode.ROOM_NOT_FOUND,
        CloseCode.RATE_LIMITED,
        CloseCode.REPLACED,
    }
)


class SignalingRefused(LinkError):
    """The hub refused the participant (no such room for it, bad ticket, rate limit, replaced, …)."""

    retriable = False
    code = "signaling_refused"

    def __init__(self, detail: str, *, close_code: int | None = None) -> None:
        super().__init__(detail)
        self.close_code = close_code


class SignalingLost(LinkError):
    """The socket dropped and could not be rejoined within the grace period."""

    retriable = True
    code = "signaling_lost"


class HubSignaling:
    """One participant's signaling channel for one case room, through the hub."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        case_id: str,
        *,
        role: ParticipantRole = "clerk",
        connect_timeout_s: float = 5.0,
        resume_window_s: float = 15.0,
    ) -> None:
        self._http = http
        self.case_id = case_id
        self.role = role
        self.connect_timeout_s = connect_timeout_s
        self.resume_window_s = resume_window_s
        self.joined: JoinedMessage | None = None
        self.reconnects = 0
        self._ws_url = ""
        self._ws: ClientConnection | None = None
        self._out = SeqCounter()
        self._inbox: asyncio.Queue[SignalingMessage | LinkError] = asyncio.Queue()
        self._connected = asyncio.Event()
        self._peer_present = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._guard = SeqGuard()
        self._failure: LinkError | None = None
        self._closing = False

    @property
    def ice_servers(self) -> list[IceServer]:
        """The ICE servers of the last `joined` frame (TURN credentials minted for this participant)."""
        return list(self.joined.ice_servers) if self.joined else []

    @property
    def relay_only(self) -> bool:
        """Whether the hub asks for relay-only ICE."""
        return bool(self.joined and self.joined.relay_only)

    async def connect(self) -> JoinedMessage:
        """Get a ticket, open the socket and join the case's room; SignalingRefused or LinkError on failure."""
        joined = await self._join_fresh()
        self._tasks = [
            asyncio.create_task(self._run(), name=f"signaling-{self.case_id}"),
            asyncio.create_task(self._heartbeat(), name=f"signaling-heartbeat-{self.case_id}"),
        ]
        return joined

    async def wait_for_peer(self, timeout_s: float = 10.0) -> None:
        """Return once the other participant is in the room; LinkError after timeout_s."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._peer_present.wait()
        except TimeoutError as exc:
            raise LinkError(f"the other participant did not join within {timeout_s:g} s") from exc

    async def send(self, msg: SignalingMessage) -> None:
        """Send one frame to the other participant (waits out a reconnection)."""
        for _ in range(2):
            await self._wait_connected()
            ws = self._ws
            if ws is None:
                continue
            async with self._send_lock:
                text = encode(msg.model_copy(update={"seq": self._out.next()}))
                try:
                    await ws.send(text)
                    return
                except ConnectionClosed:
                    self._connected.clear()
        raise SignalingLost("the socket dropped while sending")

    async def recv(self) -> SignalingMessage:
        """The next frame from the other participant (or the hub's error frame); LinkError once the channel ended."""
        item = await self._inbox.get()
        if isinstance(item, LinkError):
            self._inbox.put_nowait(item)  # every later recv reports the same end
            raise item
        return item

    async def close(self, *, bye: bool = True) -> None:
        """Say bye (optionally), close the socket and stop the channel's tasks."""
        if self._closing:
            return
        if bye and self._connected.is_set():
            with contextlib.suppress(LinkError, ConnectionClosed):
                async with asyncio.timeout(1.0):
                    await self.send(ByeMessage(seq=0, room=self.case_id, reason="hangup"))
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- internals ----------------------------------------------------------------------------------

    async def _ticket(self) -> str:
        try:
            response = await self._http.post(signaling_ticket_path(self.case_id))
        except httpx.HTTPError as exc:
            raise LinkError(f"hub unreachable for a signaling ticket: {exc}") from exc
        if response.status_code == 404:
            raise SignalingRefused("the hub knows no such case for this participant", close_code=None)
        if response.status_code != 200:
            raise LinkError(f"signaling ticket refused: HTTP {response.status_code}")
        ticket = SignalingTicket.model_validate(response.json())
        self._ws_url = ticket.ws_url
        return ticket.ticket

    async def _join_fresh(self) -> JoinedMessage:
        ticket = await self._ticket()
        return await self._open(f"{self._ws_url}?ticket={ticket}", resume_token=None)

    async def _open(self, url: str, *, resume_token: str | None) -> JoinedMessage:
        try:
            ws = await connect(
                url,
                # Over wss:// the same trust and client certificate as the hub link's REST calls (device mTLS).
                ssl=(tls_of(self._http) or True) if url.startswith("wss:") else None,
                open_timeout=self.connect_timeout_s,
                # A relayed frame is up to the 64 KiB cap plus the hub's renumbering.
                max_size=2 * MAX_FRAME_BYTES,
                ping_interval=None,  # the signaling heartbeat frames do this job, end to end
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise LinkError(f"cannot open the signaling socket: {exc}") from exc
        guard = SeqGuard()
        try:
            join = JoinMessage(
                seq=self._out.next(), room=self.case_id, role=self.role, resume_token=resume_token
            )
            await ws.send(encode(join))
            async with asyncio.timeout(self.connect_timeout_s):
                first = decode(await ws.recv())
            guard.check(first)
        except ConnectionClosed as exc:
            raise _refusal(exc) from exc
        except (TimeoutError, WireError) as exc:
            await ws.close()
            raise LinkError(f"no joined frame from the hub: {exc}") from exc
        if not isinstance(first, JoinedMessage):
            detail = f"{first.code}: {first.detail}" if isinstance(first, ErrorMessage) else first.type
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                async with asyncio.timeout(1.0):
                    await ws.recv()  # the close that follows an error frame carries the code
            raise SignalingRefused(f"join refused ({detail})", close_code=ws.close_code)
        self._ws = ws
        self._guard = guard
        self._on_joined(first)
        self._connected.set()
        return first

    def _on_joined(self, joined: JoinedMessage) -> None:
        self.joined = joined
        if set(joined.peers_present) - {self.role}:
            self._peer_present.set()

    async def _wait_connected(self) -> None:
        if self._failure is not None:
            raise self._failure
        try:
            async with asyncio.timeout(self.resume_window_s):
                await self._connected.wait()
        except TimeoutError as exc:
            raise SignalingLost("not reconnected in time") from exc
        if self._failure is not None:
            raise self._failure

    async def _run(self) -> None:
        while True:
            ws = self._ws
            if ws is None:
                return
            try:
                async for raw in ws:
                    self._deliver(raw)
                code = ws.close_code
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
            except LinkError as exc:
                self._fail(exc)
                return
            self._connected.clear()
            if self._closing:
                return
            if code in _FINAL:
                self._fail(SignalingRefused(f"the hub closed the socket ({code})", close_code=code))
                return
            try:
                await self._rejoin()
            except LinkError as exc:
                self._fail(exc)
                return

    def _deliver(self, raw: str | bytes) -> None:
        try:
            msg = decode(raw)
            self._guard.check(msg)
        except WireError as exc:
            raise LinkError(f"the hub sent an unreadable frame: {exc}") from exc
        if isinstance(msg, HeartbeatMessage):
            return
        if isinstance(msg, JoinedMessage):
            self._on_joined(msg)
            return
        if isinstance(msg, ByeMessage):
            self._peer_present.clear()
        self._inbox.put_nowait(msg)

    async def _rejoin(self) -> None:
        """Resume with the token, backing off, within the window; fall back to a fresh ticket if refused."""
        self.reconnects += 1
        delay = 0.05
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.resume_window_s
        token = self.joined.resume_token if self.joined else None
        while True:
            try:
                if token is not None:
                    await self._open(self._ws_url, resume_token=token)
                else:
                    await self._join_fresh()
                return
            except SignalingRefused as exc:
                if exc.close_code != CloseCode.RESUME_REJECTED or token is None:
                    raise
                token = None  # the session is over (grace expired): still a participant, so ask again
            except LinkError:
                if loop.time() + delay > deadline:
                    raise SignalingLost("could not rejoin the room within the resume window") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _heartbeat(self) -> None:
        while True:
            interval = (self.joined.heartbeat_s if self.joined else 15.0) / 2
            await asyncio.sleep(interval)
            if self._connected.is_set():
                with contextlib.suppress(LinkError):
                    await self.send(HeartbeatMessage(seq=0))

    def _fail(self, failure: LinkError) -> None:
        self._failure = failure
        self._connected.set()  # wake senders, which then see the failure
        self._inbox.put_nowait(failure)


def _refusal(exc: ConnectionClosed) -> LinkError:
    code = exc.rcvd.code if exc.rcvd else None
    if code is None:
        return LinkError("the hub dropped the socket while joining")
    return SignalingRefused(
        f"join refused ({code} {exc.rcvd.reason if exc.rcvd else ''})".strip(), close_code=code
    )
