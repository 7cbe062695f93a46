"""Signaling test helpers: the app under a real uvicorn server, raw sockets, and a real call through the hub."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from clerk_agent.flows.call import CallStatus, run_call
from clerk_agent.link.signaling import HubSignaling
from clerk_agent.rtc.call import place_call, take_call
from clerk_agent.rtc.ice import build_configuration
from clerk_agent.rtc.peer import AgentPeer, CallMedia, PeerTimeouts
from clerk_agent.rtc.relay import CameraFeed
from clerk_agent.rtc.sinks import RecorderSink
from clerk_agent.rtc.sources import SyntheticCamera, ToneMicrophone
from service.accounts.models import Account
from service.cases.models import Case
from service.db import unit_of_work
from service.signaling.ws_server import uvicorn_ws_options
from service.wire.signaling import (
    MAX_FRAME_BYTES,
    ErrorMessage,
    HeartbeatMessage,
    JoinedMessage,
    JoinMessage,
    SeqCounter,
    SignalingMessage,
    decode,
    encode,
)
from tests._uvicorn import served

TIMEOUTS = PeerTimeouts(answer_s=5.0, connect_s=5.0, first_frame_s=5.0, gather_s=5.0)


@contextlib.asynccontextmanager
async def serving(app: object, port: int) -> AsyncIterator[str]:
    """The app (lifespan already running) under uvicorn on 127.0.0.1:port, stopped on exit."""
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        **uvicorn_ws_options(),  # the hub's own WebSocket protocol, as `hub serve` runs it
    )
    async with served(config, name="uvicorn-test-hub"):
        yield f"http://127.0.0.1:{port}"


async def ticket(
    client: httpx.AsyncClient, case_id: str, headers: dict[str, str] | None = None
) -> dict[str, str]:
    """A signaling ticket (the JSON body), asserting 200."""
    response = await client.post(f"/api/v1/cases/{case_id}/signaling-ticket", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


@dataclass
class Closed:
    """How a raw socket ended: the close code and the error codes seen before it."""

    code: int | None
    errors: list[str]


class RawSocket:
    """A bare signaling socket for hostile tests: sends whatever it is told, records what comes back."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seq = SeqCounter()

    @classmethod
    async def open(cls, url: str, *, origin: str | None = None) -> RawSocket:
        """Connect to a ws:// URL (with its ticket, if any); `origin` sends an Origin header, as a browser does."""
        return cls(
            await connect(
                url,
                max_size=4 * MAX_FRAME_BYTES,
                ping_interval=None,
                open_timeout=5,
                origin=Origin(origin) if origin is not None else None,
            )
        )

    async def join(self, room: str, role: str, resume_token: str | None = None) -> JoinedMessage:
        """Send a join; return the joined frame (AssertionError on anything else)."""
        await self.send(JoinMessage(seq=0, room=room, role=role, resume_token=resume_token))  # type: ignore[arg-type]
        msg = await self.recv(presence=True)
        assert isinstance(msg, JoinedMessage), msg
        return msg

    async def send(self, msg: SignalingMessage) -> None:
        """Send a frame with this socket's next seq."""
        await self.ws.send(encode(msg.model_copy(update={"seq": self.seq.next()})))

    async def send_raw(self, text: str | bytes) -> None:
        """Send bytes or text as they are."""
        await self.ws.send(text)

    async def recv(self, timeout_s: float = 5.0, *, presence: bool = False) -> SignalingMessage:
        """The next frame other than a heartbeat (and other than a presence update unless `presence`)."""
        async with asyncio.timeout(timeout_s):
            while True:
                msg = decode(await self.ws.recv())
                if isinstance(msg, HeartbeatMessage) or (isinstance(msg, JoinedMessage) and not presence):
                    continue
                return msg

    async def closed(self, timeout_s: float = 5.0) -> Closed:
        """Read until the hub closes the socket."""
        errors: list[str] = []
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(timeout_s):
                while True:
                    msg = decode(await self.ws.recv())
                    if isinstance(msg, ErrorMessage):
                        errors.append(msg.code)
        return Closed(self.ws.close_code, errors)

    async def close(self) -> None:
        """Close from this side."""
        await self.ws.close()

    def drop(self) -> None:
        """Cut the TCP connection without a close frame, as a network drop does."""
        self.ws.transport.abort()


def ws_url_with(ticket_body: dict[str, str]) -> str:
    """The ticket's socket URL with the ticket in the query."""
    return f"{ticket_body['ws_url']}?ticket={ticket_body['ticket']}"


@dataclass
class CallResult:
    """What the officer stand-in saw and the agent heard."""

    officer_saw: RecorderSink
    agent_heard: RecorderSink
    agent: AgentPeer
    officer: AgentPeer


@contextlib.asynccontextmanager
async def live_call(clerk: HubSignaling, officer: HubSignaling) -> AsyncIterator[CallResult]:
    """A real call over two joined channels: the agent (synthetic camera, tone) offers, the officer answers."""
    feed = CameraFeed(SyntheticCamera(640, 480), call_size=(640, 480))
    agent_mic, officer_mic = ToneMicrophone(440.0), ToneMicrophone(660.0)
    agent_heard, officer_saw = RecorderSink(), RecorderSink()
    agent = AgentPeer(
        build_configuration(clerk.ice_servers, relay_only=clerk.relay_only),
        CallMedia(video=feed.call_track(), audio=agent_mic),
        sink=agent_heard,
        timeouts=TIMEOUTS,
    )
    stand_in = AgentPeer(
        build_configuration(officer.ice_servers, relay_only=officer.relay_only),
        CallMedia(audio=officer_mic, receive=frozenset({"audio", "video"})),
        sink=officer_saw,
        timeouts=TIMEOUTS,
    )
    try:
        await agent.prepare()
        await stand_in.prepare(pre_offer=False)
        await clerk.wait_for_peer(5.0)
        async with asyncio.TaskGroup() as group:
            group.create_task(take_call(stand_in, officer, room=officer.case_id, seq=SeqCounter()))
            group.create_task(place_call(agent, clerk, room=clerk.case_id, seq=SeqCounter()))
        await agent.wait_connected()
        await stand_in.wait_connected()
        yield CallResult(officer_saw, agent_heard, agent, stand_in)
    finally:
        await agent.close()
        await stand_in.close()
        await feed.close()
        agent_mic.stop()
        officer_mic.stop()


async def assign_officer(
    sessionmaker: async_sessionmaker[AsyncSession], case_id: str, officer_username: str
) -> str:
    """Make `officer_username` the case's assigned officer, directly: these tests are about the room, not the queue."""
    async with unit_of_work(sessionmaker) as session:
        officer_id = await session.scalar(select(Account.id).where(Account.username == officer_username))
        assert officer_id is not None
        await session.execute(update(Case).where(Case.id == case_id).values(officer_id=officer_id))
    return str(officer_id)


@dataclass
class CounterRunning:
    """The agent's real `run_call` for one case, as a task, and the assigned officer's signaling channel."""

    case_id: str
    status: CallStatus
    agent: asyncio.Task[None]
    officer: HubSignaling


@contextlib.asynccontextmanager
async def counter_running(
    device: httpx.AsyncClient,
    officer_http: httpx.AsyncClient,
    case_id: str,
    **run_options: Any,
) -> AsyncIterator[CounterRunning]:
    """Run the counter's side of `case_id`'s call for the block (the officer's channel not yet connected);
    cancelled, awaited and closed afterwards."""
    status = CallStatus()
    agent = asyncio.create_task(run_call(device, case_id, status, **{"timeouts": TIMEOUTS, **run_options}))
    officer = HubSignaling(officer_http, case_id, role="officer")
    try:
        yield CounterRunning(case_id, status, agent, officer)
    finally:
        agent.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await agent
        await officer.close()
