"""The counter's side of the live call: join the case's room, offer when the officer is there, answer renegotiation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import httpx

from clerk_agent.errors import LinkError
from clerk_agent.link.signaling import HubSignaling, SignalingRefused
from clerk_agent.rtc.call import apply_candidate
from clerk_agent.rtc.ice import build_configuration
from clerk_agent.rtc.peer import AgentPeer, CallMedia, PeerTimeouts
from clerk_agent.rtc.relay import CameraFeed
from clerk_agent.rtc.sinks import NullSink
from clerk_agent.rtc.sources import SyntheticCamera
from service.wire.signaling import (
    AnswerMessage,
    ByeMessage,
    CandidateMessage,
    OfferMessage,
    RenegotiateMessage,
)

logger = logging.getLogger(__name__)
TIMEOUTS = PeerTimeouts(answer_s=15.0, connect_s=15.0, first_frame_s=5.0, gather_s=5.0)


@dataclass
class CallStatus:
    """What the clerk screen shows about the call."""

    phase: str = "idle"  # idle | joining | waiting_officer | offering | connected | ended | failed
    offers: int = 0
    detail: str = ""


async def run_call(http: httpx.AsyncClient, case_id: str, status: CallStatus) -> None:
    """Serve the case's call until cancelled or the officer says bye; failures end up in `status`."""
    feed = CameraFeed(SyntheticCamera(640, 480, fps=15), call_size=(640, 480))
    signaling = HubSignaling(http, case_id, role="clerk")
    peers: list[AgentPeer] = []
    try:
        status.phase = "joining"
        await signaling.connect()
        status.phase = "waiting_officer"
        while True:
            try:
                await signaling.wait_for_peer(30.0)
                break
            except LinkError:
                continue  # the officer's console may take a while to open the call
        peer = await _offer(signaling, feed, peers, status, restart=False)
        while True:
            msg = await signaling.recv()
            if isinstance(msg, AnswerMessage):
                await peer.accept_answer(msg.sdp)
                status.phase = "connected"
            elif isinstance(msg, CandidateMessage):
                # A candidate the peer cannot use (mDNS name, closed peer) must not end the call.
                with contextlib.suppress(Exception):
                    await apply_candidate(peer, msg)
            elif isinstance(msg, RenegotiateMessage):
                # aiortc cannot restart ICE on a live peer: a fresh peer and a new offer.
                await peer.close()
                peer = await _offer(signaling, feed, peers, status, restart=True)
            elif isinstance(msg, ByeMessage):
                status.phase = "ended"
                return
    except SignalingRefused as exc:
        status.phase, status.detail = "failed", exc.code
        logger.warning("signaling refused for case %s: %s", case_id, exc)
    except LinkError as exc:
        status.phase, status.detail = "failed", exc.code
        logger.warning("call link failed for case %s: %s", case_id, exc)
    finally:
        for each in peers:
            await each.close()
        await signaling.close()
        await feed.close()


async def _offer(
    signaling: HubSignaling, feed: CameraFeed, peers: list[AgentPeer], status: CallStatus, *, restart: bool
) -> AgentPeer:
    peer = AgentPeer(
        build_configuration(signaling.ice_servers, relay_only=signaling.relay_only),
        CallMedia(video=feed.call_track(), receive=frozenset()),
        sink=NullSink(),
        timeouts=TIMEOUTS,
    )
    peers.append(peer)
    status.phase = "offering"
    await peer.prepare()
    sdp = await peer.create_offer()
    await signaling.send(OfferMessage(seq=0, room=signaling.case_id, sdp=sdp, ice_restart=restart))
    status.offers += 1
    await asyncio.sleep(0)
    return peer
