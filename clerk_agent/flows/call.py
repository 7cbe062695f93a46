"""The counter's side of the live call: join the case's room, offer when the officer is there, answer renegotiation.

The counter sends its camera and microphone (synthetic ones by default) and plays the officer's voice through
a `FrameSink`. The peer is prepared — transceivers, offer, candidates — while the call still waits for the
officer, so accepting costs only the signaling round trip. Once a call connects (or fails to), the agent
reports how it went to the hub as the case's connection metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
from av.frame import Frame

from clerk_agent.errors import LinkError, PeerError
from clerk_agent.link.client import case_officer, report_connection_metrics
from clerk_agent.link.signaling import HubSignaling, SignalingRefused
from clerk_agent.rtc.call import apply_candidate
from clerk_agent.rtc.errors import PeerFailed
from clerk_agent.rtc.ice import build_configuration, turn_expiry
from clerk_agent.rtc.officer_video import OfficerVideo
from clerk_agent.rtc.peer import AgentPeer, CallMedia, PeerTimeouts
from clerk_agent.rtc.relay import CameraFeed
from clerk_agent.rtc.sinks import FrameSink, NullSink
from clerk_agent.rtc.sources import MediaSource, SyntheticCamera, ToneMicrophone
from service.wire.rtc_metrics import ConnectionMetrics
from service.wire.signaling import (
    AnswerMessage,
    ByeMessage,
    CandidateMessage,
    IceServer,
    OfferMessage,
    RenegotiateMessage,
)

logger = logging.getLogger(__name__)
TIMEOUTS = PeerTimeouts(answer_s=15.0, connect_s=15.0, first_frame_s=5.0, gather_s=5.0)
# The officer's voice counts as flowing while frames keep coming (Opus sends 50 a second, even in silence).
AUDIO_STALE_S = 1.0
# A waiting peer is prepared again once this share of its TURN credentials' remaining lifetime has passed.
REFRESH_AFTER = 0.8


@dataclass
class CallStatus:
    """What the clerk screen shows about the call."""

    phase: str = "idle"  # idle | joining | waiting_officer | offering | connected | ended | failed
    offers: int = 0
    detail: str = ""
    officer_audio_frames: int = 0
    officer_audio_at: float | None = None  # time.monotonic() of the last frame of the officer's voice
    refreshes: int = 0  # peers re-prepared with fresh TURN credentials while the case waited
    metrics: list[ConnectionMetrics] = field(default_factory=list)
    # The officer as the hub names them (GET /cases/{id}/officer) and their camera, for the applicant's screen.
    officer: dict[str, str | None] = field(default_factory=dict)
    officer_video: OfficerVideo = field(default_factory=OfficerVideo)

    @property
    def officer_audio(self) -> bool:
        """Whether the officer's voice is reaching the counter right now."""
        return self.officer_audio_at is not None and time.monotonic() - self.officer_audio_at < AUDIO_STALE_S


class _StatusSink:
    """Forwards remote media to the counter's sink and keeps CallStatus's view of the officer's voice."""

    def __init__(self, inner: FrameSink, status: CallStatus) -> None:
        self._inner = inner
        self._status = status

    def deliver(self, kind: str, frame: Frame) -> None:
        if kind == "audio":
            self._status.officer_audio_frames += 1
            self._status.officer_audio_at = time.monotonic()
        elif kind == "video":
            self._status.officer_video.deliver(frame)
        self._inner.deliver(kind, frame)


@dataclass
class _Call:
    """The pieces one run_call owns."""

    signaling: HubSignaling
    camera: CameraFeed
    microphone: CameraFeed | None
    sink: _StatusSink
    timeouts: PeerTimeouts
    peers: list[AgentPeer] = field(default_factory=list)
    # The call's own background work (the officer's name, metrics reports): cancelled and awaited at its end.
    background: list[asyncio.Task[None]] = field(default_factory=list)


async def run_call(
    http: httpx.AsyncClient,
    case_id: str,
    status: CallStatus,
    *,
    source: MediaSource | None = None,
    sink: FrameSink | None = None,
    timeouts: PeerTimeouts = TIMEOUTS,
    report_metrics: bool = True,
    refresh_after: float = REFRESH_AFTER,
) -> None:
    """Serve the case's call until cancelled or the officer says bye; failures end up in `status`.

    `source` defaults to the synthetic camera and tone; run_call stops it when it ends. `sink` receives the
    officer's voice (default: counted and dropped, for a counter without a speaker; `SpeakerSink` plays it)
    and stays the caller's to close. A peer prepared while the case waits is prepared again, with fresh TURN
    credentials, once `refresh_after` of their lifetime has passed: coturn refuses to refresh the allocation
    of an expired credential, and the relay candidates of the offer would be dead when the officer comes.
    """
    source = source or MediaSource(
        video=SyntheticCamera(640, 480, fps=15), audio=ToneMicrophone(), video_size=(640, 480)
    )
    if source.video is None:
        raise ValueError("the call needs a camera")
    call = _Call(
        signaling=HubSignaling(http, case_id, role="clerk"),
        camera=CameraFeed(source.video, call_size=(640, 480)),
        # The same relay as the camera's, so a fresh peer after renegotiation gets its own subscription.
        microphone=CameraFeed(source.audio, call_size=None) if source.audio is not None else None,
        sink=_StatusSink(sink or NullSink(), status),
        timeouts=timeouts,
    )
    try:
        status.phase = "joining"
        await call.signaling.connect()
        # Prepared while the officer is still on the way: gathering is off the accept → first-frame path.
        peer = await _prepared_peer(call)
        status.phase = "waiting_officer"
        # Anchored when the credentials arrive: the share of their lifetime is counted from then.
        refresh_at = _refresh_at(call.signaling.ice_servers, refresh_after)
        while True:
            wait_s = 30.0 if refresh_at is None else min(30.0, max(0.0, refresh_at - time.time()))
            try:
                await call.signaling.wait_for_peer(wait_s)
                break
            except LinkError:
                # The officer's console may take a while to open the call; meanwhile the credentials age.
                if refresh_at is not None and time.time() >= refresh_at:
                    peer = await _refreshed(call, peer, http, case_id)
                    refresh_at = _refresh_at(call.signaling.ice_servers, refresh_after)
                    status.refreshes += 1
        await _offer(call, peer, status, restart=False)
        # Beside the call, not before it: the answer must not wait in the inbox for this round trip (#18).
        call.background.append(
            asyncio.create_task(_learn_officer(http, case_id, status, peer), name=f"call-officer-{case_id}")
        )
        while True:
            msg = await call.signaling.recv()
            if isinstance(msg, AnswerMessage):
                try:
                    await peer.accept_answer(without_mdns(msg.sdp))
                except PeerFailed as exc:
                    # An answer to an offer this peer no longer holds (it crossed a renegotiation) or one
                    # aiortc cannot use: the console renegotiates when it sees no picture, so the call goes on.
                    status.detail = exc.code
                    logger.warning("answer refused for case %s: %s", case_id, exc)
                    continue
                status.phase = "connected"
                if report_metrics:
                    call.background.append(
                        asyncio.create_task(_report(http, call, peer, status), name=f"call-metrics-{case_id}")
                    )
            elif isinstance(msg, CandidateMessage):
                if is_mdns(msg.candidate):
                    continue
                # A candidate the peer cannot use (a closed peer, an unreadable line) must not end the call.
                with contextlib.suppress(Exception):
                    await apply_candidate(peer, msg)
            elif isinstance(msg, RenegotiateMessage):
                # aiortc cannot restart ICE on a live peer: a fresh peer and a new offer.
                await peer.close()
                peer = await _prepared_peer(call)
                await _offer(call, peer, status, restart=True)
            elif isinstance(msg, ByeMessage):
                status.phase = "ended"
                return
    except SignalingRefused as exc:
        status.phase, status.detail = "failed", exc.code
        logger.warning("signaling refused for case %s: %s", case_id, exc)
    except (LinkError, PeerError) as exc:
        status.phase, status.detail = "failed", exc.code
        logger.warning("call failed for case %s: %s", case_id, exc)
    finally:
        for task in call.background:
            task.cancel()
        await asyncio.gather(*call.background, return_exceptions=True)
        for each in call.peers:
            await each.close()
        await call.signaling.close()
        await call.camera.close()
        status.officer_video.reset()
        if call.microphone is not None:
            await call.microphone.close()


def is_mdns(candidate: str) -> bool:
    """Whether an ICE candidate line names its address by an mDNS `<uuid>.local` name."""
    parts = candidate.removeprefix("a=").removeprefix("candidate:").split()
    return len(parts) > 4 and parts[4].endswith(".local")


def without_mdns(sdp: str) -> str:
    """`sdp` without its mDNS host candidates.

    The officer's browser and the counter are never on one link (LGWAN and the post office network), so
    such a name cannot resolve here; trying costs aioice up to its mDNS timeout (1 s with dnspython ≥ 2.9.1,
    docs/live-link.md §5) and sends multicast on the counter's LAN. The officer's checks still reach the
    counter, which learns that address as peer-reflexive.
    """
    return "".join(
        line
        for line in sdp.splitlines(keepends=True)
        if not (line.startswith("a=candidate:") and is_mdns(line))
    )


def _refresh_at(servers: Sequence[IceServer], refresh_after: float) -> float | None:
    """When (Unix time) a peer prepared with `servers` is due to be prepared again; None: never."""
    expiries = [
        expiry
        for server in servers
        if server.username and any(url.startswith("turn") for url in server.urls)
        if (expiry := turn_expiry(server.username)) is not None
    ]
    if not expiries:
        return None
    now = time.time()
    return now + max(0.0, min(expiries) - now) * refresh_after


async def _refreshed(call: _Call, old: AgentPeer, http: httpx.AsyncClient, case_id: str) -> AgentPeer:
    """Join again (a new ticket mints new TURN credentials) and prepare a peer with them; the old one goes."""
    await call.signaling.close(bye=False)
    call.signaling = HubSignaling(http, case_id, role="clerk")
    await call.signaling.connect()
    fresh = await _prepared_peer(call)
    await old.close()
    call.peers.remove(old)
    return fresh


async def _prepared_peer(call: _Call) -> AgentPeer:
    peer = AgentPeer(
        build_configuration(call.signaling.ice_servers, relay_only=call.signaling.relay_only),
        CallMedia(
            video=call.camera.call_track(),
            audio=call.microphone.call_track() if call.microphone else None,
            receive=frozenset({"audio", "video"}),  # the officer's voice, and their camera when they allow it
        ),
        sink=call.sink,
        timeouts=call.timeouts,
    )
    call.peers.append(peer)
    await peer.prepare()
    return peer


async def _learn_officer(http: httpx.AsyncClient, case_id: str, status: CallStatus, peer: AgentPeer) -> None:
    """The officer's name and municipality from the hub, never from the officer's browser.

    Asked once the first peer is up (or has failed to come up): the request's work on the agent's loop would
    otherwise sit between the answer's ICE and DTLS steps and the first frame (#18).
    """
    with contextlib.suppress(PeerError):
        await peer.wait_connected()
    officer = await case_officer(http, case_id)
    if officer is not None:
        status.officer = officer.model_dump()


async def _offer(call: _Call, peer: AgentPeer, status: CallStatus, *, restart: bool) -> None:
    status.phase = "offering"
    sdp = await peer.create_offer()
    await call.signaling.send(OfferMessage(seq=0, room=call.signaling.case_id, sdp=sdp, ice_restart=restart))
    status.offers += 1


async def _report(http: httpx.AsyncClient, call: _Call, peer: AgentPeer, status: CallStatus) -> None:
    """Wait until the call connects and the officer's voice arrives (or either times out), then report."""
    try:
        await peer.wait_connected()
        # An officer without a microphone sends no audio: the report then goes out without first_audio.
        with contextlib.suppress(PeerError):
            await peer.wait_first_frame("audio")
    except PeerError as exc:
        status.detail = exc.code  # the officer may still renegotiate; the partial figures are reported
    metrics = peer.metrics()
    status.metrics.append(metrics)
    await report_connection_metrics(http, call.signaling.case_id, metrics)
