"""Offer/answer over a signaling channel: the agent places the call, an answering peer takes it.

Only the exchange that sets up media lives here; after it, the link's own message loop keeps reading the
channel (bye, mute, renegotiate, late candidates) and passes candidates to `apply_candidate`.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from clerk_agent.rtc.channel import SignalingChannel
from clerk_agent.rtc.errors import PeerFailed, PeerTimeout
from clerk_agent.rtc.peer import AgentPeer
from service.wire.signaling import (
    AnswerMessage,
    ByeMessage,
    CandidateMessage,
    ErrorMessage,
    OfferMessage,
    SeqCounter,
    SignalingMessage,
)

_Setup = TypeVar("_Setup", AnswerMessage, OfferMessage)


async def apply_candidate(peer: AgentPeer, msg: CandidateMessage) -> None:
    """Hand one trickled candidate to the peer."""
    await peer.add_candidate(msg.candidate, sdp_mid=msg.sdp_mid, sdp_mline_index=msg.sdp_mline_index)


async def place_call(peer: AgentPeer, channel: SignalingChannel, *, room: str, seq: SeqCounter) -> None:
    """Send the (prepared) offer and apply the answer; PeerTimeout if none comes within answer_s."""
    sdp = await peer.create_offer()
    await channel.send(OfferMessage(seq=seq.next(), room=room, sdp=sdp))
    early: list[CandidateMessage] = []
    try:
        async with asyncio.timeout(peer.timeouts.answer_s):
            answer = await _next_of(channel, AnswerMessage, early)
    except TimeoutError as exc:
        raise PeerTimeout("answer", peer.timeouts.answer_s) from exc
    await peer.accept_answer(answer.sdp)
    # A browser may trickle candidates before its answer arrives; they only apply after it.
    for candidate in early:
        await apply_candidate(peer, candidate)


async def take_call(peer: AgentPeer, channel: SignalingChannel, *, room: str, seq: SeqCounter) -> None:
    """Wait for an offer (within answer_s) and send the answer."""
    early: list[CandidateMessage] = []
    try:
        async with asyncio.timeout(peer.timeouts.answer_s):
            offer = await _next_of(channel, OfferMessage, early)
    except TimeoutError as exc:
        raise PeerTimeout("offer", peer.timeouts.answer_s) from exc
    answer = await peer.accept_offer(offer.sdp)
    await channel.send(AnswerMessage(seq=seq.next(), room=room, sdp=answer))
    for candidate in early:
        await apply_candidate(peer, candidate)


async def _next_of(channel: SignalingChannel, wanted: type[_Setup], early: list[CandidateMessage]) -> _Setup:
    while True:
        msg: SignalingMessage = await channel.recv()
        if isinstance(msg, wanted):
            return msg
        if isinstance(msg, CandidateMessage):
            early.append(msg)
        elif isinstance(msg, ByeMessage):
            raise PeerFailed(f"the far side left before answering ({msg.reason})")
        elif isinstance(msg, ErrorMessage):
            raise PeerFailed(f"signaling refused: {msg.code} {msg.detail}".strip())
        # Heartbeats, mute and the like carry nothing for call setup.
