"""The agent's aiortc peer: prepared while the case waits, so the offer path does no blocking work.

`prepare()` creates the peer connection, adds the transceivers with their tracks and codec preferences and,
by default, creates the offer and gathers candidates. When the officer accepts, `create_offer()` only
hands that SDP over. Every wait has its own timeout (a peer without candidates stays in `new` for good,
and aiortc never reports `failed` for it), and the milestones of the call are kept as ConnectionMetrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Final, Literal, Self, cast, get_args

from aiortc import (
    InvalidAccessError,
    InvalidStateError,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp
from av.frame import Frame

from clerk_agent.rtc import aioice_patch, aiortc_patch, encoding, vp8
from clerk_agent.rtc.errors import PeerFailed, PeerTimeout
from clerk_agent.rtc.sinks import FrameSink
from service.wire.rtc_metrics import CandidateType, ConnectionMetrics

logger = logging.getLogger(__name__)
# aioice patched: a relayed call's first check no longer waits 500 ms for a retransmission, equal pairs are
# checked nearest first, and no pacing wait outlasts ICE (docs/live-link.md §10).
aioice_patch.install()
# The call picture is encoded with settings for a counter, not a generic webcam, and the audio level of each
# sent packet is computed without a Python loop over its samples (docs/live-link.md §11).
vp8.install()
aiortc_patch.install()

MediaKind = Literal["audio", "video"]
_CANDIDATE_TYPES: Final = frozenset(get_args(CandidateType))


@dataclass(frozen=True)
class PeerTimeouts:
    """How long each wait of a call may take before the peer is reported as failed."""

    answer_s: float = 10.0
    connect_s: float = 10.0
    first_frame_s: float = 5.0
    gather_s: float = 10.0  # setLocalDescription waits for every STUN/TURN server to answer or time out


@dataclass(frozen=True)
class CallMedia:
    """The local tracks this peer sends and the remote kinds it wants to receive."""

    video: MediaStreamTrack | None = None
    audio: MediaStreamTrack | None = None
    receive: frozenset[MediaKind] = field(default_factory=lambda: frozenset({"audio"}))


class AgentPeer:
    """One call's peer connection: offer/answer, remote candidates, remote media to a sink, metrics."""

    def __init__(
        self,
        configuration: RTCConfiguration,
        media: CallMedia,
        *,
        sink: FrameSink,
        timeouts: PeerTimeouts | None = None,
        video_codec: str = "video/VP8",
    ) -> None:
        self.configuration = configuration
        self.media = media
        self.timeouts = timeouts or PeerTimeouts()
        self.video_codec = video_codec
        self._sink = sink
        self._pc: RTCPeerConnection | None = None
        self._prepared_offer: str | None = None
        self._consumers: set[asyncio.Task[None]] = set()
        self._state_changed = asyncio.Event()
        self._first_frame: dict[str, asyncio.Event] = {"audio": asyncio.Event(), "video": asyncio.Event()}
        self._role: Literal["offerer", "answerer"] = "offerer"
        self._started_at: datetime | None = None
        self._t0: float | None = None
        self._marks: dict[str, float] = {}
        self._closed = False

    @property
    def connection_state(self) -> str:
        """aiortc's connectionState ("new" before prepare)."""
        return self._pc.connectionState if self._pc else "new"

    async def prepare(self, *, pre_offer: bool = True) -> None:
        """Create the connection and transceivers; with pre_offer also create the offer and gather now."""
        if self._pc is not None:
            return
        # aiortc hands each frame to the loop's default executor: give each encoder its own thread (§11).
        encoding.install()
        pc = RTCPeerConnection(configuration=self.configuration)
        self._pc = pc
        pc.on("connectionstatechange", self._on_connection_state)
        pc.on("iceconnectionstatechange", self._on_ice_state)
        pc.on("track", self._on_track)
        for kind, track in (("audio", self.media.audio), ("video", self.media.video)):
            receiving = kind in self.media.receive
            if track is None and not receiving:
                continue
            direction = "sendrecv" if track and receiving else "sendonly" if track else "recvonly"
            transceiver = pc.addTransceiver(track or kind, direction=direction)
            if kind == "video":
                codecs = [
                    codec
                    for codec in RTCRtpSender.getCapabilities("video").codecs
                    if codec.mimeType in {self.video_codec, "video/rtx"}
                ]
                transceiver.setCodecPreferences(codecs)
        if pre_offer:
            # setLocalDescription gathers every candidate (aiortc has no trickle): with STUN/TURN servers
            # that is a network round trip, which belongs here and not after the officer accepts.
            await self._set_local(pc, await pc.createOffer())
            self._prepared_offer = pc.localDescription.sdp

    async def create_offer(self) -> str:
        """Start the call's clock and return the offer SDP (prepared earlier unless prepare was skipped)."""
        self._start("offerer")
        if self._pc is None:
            await self.prepare(pre_offer=True)
        pc = self._require_pc()
        if self._prepared_offer is None:
            await self._set_local(pc, await pc.createOffer())
        offer, self._prepared_offer = self._prepared_offer or pc.localDescription.sdp, None
        return offer

    async def accept_answer(self, sdp: str) -> None:
        """Apply the far side's answer; ICE and DTLS start from here."""
        pc = self._require_pc()
        await self._set_remote(pc, RTCSessionDescription(sdp=sdp, type="answer"))
        self._mark("signaling")

    async def accept_offer(self, sdp: str) -> str:
        """Answer the far side's offer (the peer must be prepared without pre_offer); return the answer SDP."""
        if self._prepared_offer is not None:
            # aiortc cannot roll back a local offer, so a peer prepared as offerer cannot also answer.
            raise PeerFailed("this peer was prepared with an offer; prepare(pre_offer=False) to answer")
        self._start("answerer")
        if self._pc is None:
            await self.prepare(pre_offer=False)
        pc = self._require_pc()
        await self._set_remote(pc, RTCSessionDescription(sdp=sdp, type="offer"))
        await self._set_local(pc, await pc.createAnswer())
        self._mark("signaling")
        return str(pc.localDescription.sdp)

    async def add_candidate(
        self, candidate: str, *, sdp_mid: str | None, sdp_mline_index: int | None
    ) -> None:
        """Apply one trickled remote candidate ("" is end-of-candidates)."""
        pc = self._require_pc()
        if not candidate:
            await pc.addIceCandidate(None)
            return
        try:
            parsed = candidate_from_sdp(candidate.removeprefix("candidate:"))
        except (AssertionError, ValueError, IndexError) as exc:
            raise PeerFailed(f"unreadable remote candidate: {candidate[:80]!r}") from exc
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = sdp_mline_index
        await pc.addIceCandidate(parsed)

    async def wait_connected(self) -> None:
        """Return once ICE and DTLS are up; PeerTimeout after connect_s, PeerFailed if the connection fails."""
        try:
            async with asyncio.timeout(self.timeouts.connect_s):
                while True:
                    state = self.connection_state
                    if state == "connected":
                        return
                    if state in {"failed", "closed"}:
                        raise PeerFailed(f"peer connection {state}")
                    self._state_changed.clear()
                    await self._state_changed.wait()
        except TimeoutError as exc:
            raise PeerTimeout("connect", self.timeouts.connect_s) from exc

    async def wait_first_frame(self, kind: MediaKind | None = None) -> None:
        """Return once a remote frame of `kind` (default: video if received, else audio) is decoded."""
        if kind is None:
            kind = "video" if "video" in self.media.receive else "audio"
        try:
            async with asyncio.timeout(self.timeouts.first_frame_s):
                await self._first_frame[kind].wait()
        except TimeoutError as exc:
            raise PeerTimeout("first_frame", self.timeouts.first_frame_s) from exc

    def metrics(self) -> ConnectionMetrics:
        """The call's milestones so far and the selected candidate pair."""
        local, remote = _selected_pair(self._pc) if self._pc else (None, None)
        return ConnectionMetrics(
            started_at=self._started_at or datetime.now(UTC),
            role=self._role,
            signaling_ms=self._marks.get("signaling"),
            ice_ms=self._marks.get("ice"),
            dtls_ms=self._marks.get("dtls"),
            first_frame_ms=self._marks.get("first_video"),
            first_audio_ms=self._marks.get("first_audio"),
            local_candidate=local,
            remote_candidate=remote,
        )

    async def close(self) -> None:
        """Stop reading remote media and close the connection; the caller still owns the local tracks."""
        if self._closed:
            return
        self._closed = True
        for task in self._consumers:
            task.cancel()
        await asyncio.gather(*self._consumers, return_exceptions=True)
        self._consumers.clear()
        if self._pc is not None:
            await self._pc.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _require_pc(self) -> RTCPeerConnection:
        if self._pc is None or self._closed:
            raise PeerFailed("the peer is closed or was never prepared")
        return self._pc

    def _start(self, role: Literal["offerer", "answerer"]) -> None:
        self._role = role
        self._started_at = datetime.now(UTC)
        self._t0 = time.perf_counter()
        self._marks.clear()

    def _mark(self, milestone: str) -> None:
        if self._t0 is not None and milestone not in self._marks:
            self._marks[milestone] = round((time.perf_counter() - self._t0) * 1000, 3)

    async def _set_local(self, pc: RTCPeerConnection, description: RTCSessionDescription) -> None:
        try:
            async with asyncio.timeout(self.timeouts.gather_s):
                await pc.setLocalDescription(description)
        except TimeoutError as exc:
            raise PeerTimeout("gather", self.timeouts.gather_s) from exc

    async def _set_remote(self, pc: RTCPeerConnection, description: RTCSessionDescription) -> None:
        try:
            await pc.setRemoteDescription(description)
        except (ValueError, AssertionError, IndexError, InvalidAccessError, InvalidStateError) as exc:
            # aiortc's SDP parser raises the first three on a description it cannot use; the state errors
            # come with an answer this peer is not waiting for (a late answer to an earlier offer).
            raise PeerFailed(f"remote {description.type} refused: {exc}") from exc

    def _on_connection_state(self) -> None:
        if self.connection_state == "connected":
            self._mark("dtls")
        self._state_changed.set()

    def _on_ice_state(self) -> None:
        if self._pc is not None and self._pc.iceConnectionState == "completed":
            self._mark("ice")
        self._state_changed.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        # Owned here: cancelled and awaited by close().
        task = asyncio.create_task(self._consume(track), name=f"peer-consume-{track.kind}")
        self._consumers.add(task)

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, Frame):
                continue  # a remote track yields decoded frames; anything else is not media for the sink
            first = self._first_frame.get(track.kind)
            if first is not None and not first.is_set():
                self._mark(f"first_{track.kind}")
                first.set()
            self._sink.deliver(track.kind, frame)


def _selected_pair(pc: RTCPeerConnection) -> tuple[CandidateType | None, CandidateType | None]:
    # aiortc's getStats() has no candidate-pair entries, so the nominated pair is read from aioice's
    # connection behind the (bundled) transport. Private attributes: read defensively.
    for transceiver in pc.getTransceivers():
        ice = getattr(transceiver.sender.transport, "transport", None)
        nominated = getattr(getattr(ice, "_connection", None), "_nominated", None)
        pair = nominated.get(1) if isinstance(nominated, dict) else None
        if pair is None:
            continue
        local = getattr(pair.local_candidate, "type", None)
        remote = getattr(pair.remote_candidate, "type", None)
        return (
            cast(CandidateType, local) if local in _CANDIDATE_TYPES else None,
            cast(CandidateType, remote) if remote in _CANDIDATE_TYPES else None,
        )
    return None, None
