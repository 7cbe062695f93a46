"""The counter in the console tests: the clerk agent's real peer (synthetic camera) and its virtual card.

The agent's production call loop is still being written elsewhere; this stand-in drives the real pieces —
`HubSignaling`, `AgentPeer`, the wire messages — as the agent will: it offers when the officer is present,
applies the answer and answers `renegotiate` with a fresh peer and an `ice_restart` offer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw

from clerk_agent.card.protocol import MyNumberCard
from clerk_agent.card.reading import PossessionChallenge, read_at_counter
from clerk_agent.card.virtual.build import build_virtual_card, load_card_material, person
from clerk_agent.card.virtual.card import VirtualMyNumberCard
from clerk_agent.card.virtual.transport import InProcessTransport
from clerk_agent.link.signaling import HubSignaling
from clerk_agent.rtc.call import apply_candidate
from clerk_agent.rtc.ice import build_configuration
from clerk_agent.rtc.peer import AgentPeer, CallMedia, PeerTimeouts
from clerk_agent.rtc.relay import CameraFeed
from clerk_agent.rtc.sinks import NullSink
from clerk_agent.rtc.sources import SyntheticCamera
from service.wire.card_profiles import CardGeneration
from service.wire.signaling import (
    AnswerMessage,
    ByeMessage,
    CandidateMessage,
    OfferMessage,
    RenegotiateMessage,
)
from tests.plugins.cardkit import card_face_code

_CARDS: dict[tuple[Path, str, CardGeneration], VirtualMyNumberCard] = {}
TIMEOUTS = PeerTimeouts(answer_s=10.0, connect_s=10.0, first_frame_s=5.0, gather_s=5.0)


def without_mdns(sdp: str) -> str:
    """Drop `.local` candidates: resolving them would send multicast from the test's own namespace."""
    return "".join(
        line
        for line in sdp.splitlines(keepends=True)
        if not (line.startswith("a=candidate:") and ".local " in line)
    )


@dataclass
class Counter:
    """What the counter did: offers sent, answers applied, renegotiations answered."""

    offers: int = 0
    answers: int = 0
    restarts: int = 0
    renegotiations: int = 0
    peers: list[AgentPeer] = field(default_factory=list)


async def _serve(signaling: HubSignaling, counter: Counter, feed: CameraFeed) -> None:
    async def offer(*, restart: bool) -> AgentPeer:
        peer = AgentPeer(
            build_configuration(signaling.ice_servers, relay_only=signaling.relay_only),
            CallMedia(video=feed.call_track(), receive=frozenset()),
            sink=NullSink(),
            timeouts=TIMEOUTS,
        )
        counter.peers.append(peer)
        await peer.prepare()
        sdp = await peer.create_offer()
        await signaling.send(OfferMessage(seq=0, room=signaling.case_id, sdp=sdp, ice_restart=restart))
        counter.offers += 1
        return peer

    await signaling.wait_for_peer(20.0)
    peer = await offer(restart=False)
    while True:
        msg = await signaling.recv()
        if isinstance(msg, AnswerMessage):
            await peer.accept_answer(without_mdns(msg.sdp))
            counter.answers += 1
        elif isinstance(msg, CandidateMessage) and ".local " not in msg.candidate:
            with contextlib.suppress(Exception):
                await apply_candidate(peer, msg)
        elif isinstance(msg, RenegotiateMessage):
            counter.renegotiations += 1
            # aiortc cannot restart ICE on a peer: a fresh peer and a new offer, as the agent does.
            await peer.close()
            counter.restarts += 1
            peer = await offer(restart=True)
        elif isinstance(msg, ByeMessage):
            return


@contextlib.asynccontextmanager
async def counter_call(device: httpx.AsyncClient, case_id: str) -> AsyncIterator[Counter]:
    """The counter joins the case's room and serves calls until the block ends."""
    counter = Counter()
    feed = CameraFeed(SyntheticCamera(640, 480, fps=15), call_size=(640, 480))
    signaling = HubSignaling(device, case_id, role="clerk")
    await signaling.connect()
    task = asyncio.create_task(_serve(signaling, counter, feed), name="counter-stand-in")
    try:
        yield counter
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        for peer in counter.peers:
            await peer.close()
        await signaling.close()
        await feed.close()


async def submit_card_proof(
    device: httpx.AsyncClient,
    case_id: str,
    pki: Path,
    who: str,
    generation: CardGeneration = CardGeneration.GEN2016,
) -> dict[str, Any]:
    """Read `who`'s virtual card (of `generation`) against a fresh hub challenge and POST the proof, as the counter
    does."""
    issued = await device.post(f"/api/v1/cases/{case_id}/card-challenges")
    assert issued.status_code == 201, issued.text
    challenge = issued.json()
    holder = person(who)

    def read() -> Any:
        # One physical card per person and PKI: a rebuilt card has new keys, which the hub calls a swap.
        if (pki, who, generation) not in _CARDS:
            _CARDS[(pki, who, generation)] = build_virtual_card(
                holder, load_card_material(pki, who, generation)
            )
        card = _CARDS[(pki, who, generation)]
        return read_at_counter(
            MyNumberCard(InProcessTransport(card)),
            auth_pin=bytearray(holder.auth_pin.encode()),
            code_b=bytearray(card_face_code(who, generation).encode()),
            challenge=PossessionChallenge(challenge["origin"], challenge["nonce"], challenge["case_id"]),
        )

    # The emulator signs in Python: off the loop, which also serves the hub and the call.
    counter_read = await asyncio.to_thread(read)
    body = {
        "challenge_id": challenge["challenge_id"],
        "certificate": base64.b64encode(counter_read.auth_certificate).decode(),
        "signature": base64.b64encode(counter_read.signature).decode(),
        "atr": counter_read.atr.hex(),
        "card_face": base64.b64encode(counter_read.card_face.raw).decode()
        if counter_read.card_face
        else None,
        "card_face_signature": base64.b64encode(counter_read.card_face_signature).decode()
        if counter_read.card_face_signature
        else None,
        "card_generation": counter_read.generation.value,
    }
    proof = await device.post(f"/api/v1/cases/{case_id}/card-proofs", json=body)
    assert proof.status_code == 201, proof.text
    return dict(proof.json())


def _document_png() -> bytes:
    """A synthetic 'ID document' still: a pale card with dark bars, 640×400."""
    image = Image.new("RGB", (640, 400), (236, 240, 232))
    draw = ImageDraw.Draw(image)
    draw.rectangle((24, 24, 616, 376), outline=(40, 60, 90), width=6)
    for row in range(5):
        draw.rectangle((220, 60 + row * 56, 580, 84 + row * 56), fill=(60, 70, 80))
    draw.rectangle((48, 60, 196, 250), fill=(150, 150, 160))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def post_document_still(device: httpx.AsyncClient, case_id: str) -> httpx.Response:
    """The counter shows an ID document to its camera: its front still, stored by the hub (201 asserted)."""
    still = await device.post(
        f"/api/v1/cases/{case_id}/stills",
        params={"kind": "document_front"},
        content=_document_png(),
        headers={"content-type": "image/png"},
    )
    assert still.status_code == 201, still.text
    return still
