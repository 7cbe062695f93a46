"""A call that cannot complete is reported as a typed, timely PeerError, never left hanging."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from clerk_agent.errors import PeerError
from clerk_agent.rtc.call import place_call
from clerk_agent.rtc.channel import memory_channel_pair
from clerk_agent.rtc.errors import PeerFailed, PeerTimeout
from clerk_agent.rtc.ice import build_configuration
from clerk_agent.rtc.peer import AgentPeer, CallMedia, PeerTimeouts
from clerk_agent.rtc.sinks import NullSink
from clerk_agent.rtc.sources import ToneMicrophone
from service.wire.signaling import AnswerMessage, ByeMessage, IceServer, OfferMessage, SeqCounter

ROOM = "case_failing0000000000000000"


async def test_no_answer_raises_timeout_within_the_configured_time() -> None:
    mic = ToneMicrophone()
    agent = AgentPeer(
        build_configuration([]),
        CallMedia(audio=mic),
        sink=NullSink(),
        timeouts=PeerTimeouts(answer_s=0.4),
    )
    agent_end, silent_officer = memory_channel_pair()
    try:
        await agent.prepare()
        started = time.perf_counter()
        with pytest.raises(PeerTimeout) as caught:
            await place_call(agent, agent_end, room=ROOM, seq=SeqCounter())
        elapsed = time.perf_counter() - started
    finally:
        await agent.close()
        mic.stop()
    assert 0.4 <= elapsed < 1.0
    assert caught.value.phase == "answer"
    assert isinstance(caught.value, PeerError)
    assert caught.value.retriable
    # The offer did go out: the silence is the far side's.
    assert isinstance(await silent_officer.recv(), OfferMessage)


async def test_answer_without_candidates_times_out_on_connect() -> None:
    # An answer with no reachable candidate: aiortc stays in `checking` and never reports `failed`.
    mic, officer_mic = ToneMicrophone(), ToneMicrophone()
    timeouts = PeerTimeouts(answer_s=2.0, connect_s=0.5, first_frame_s=0.3)
    agent = AgentPeer(build_configuration([]), CallMedia(audio=mic), sink=NullSink(), timeouts=timeouts)
    officer = AgentPeer(
        build_configuration([]), CallMedia(audio=officer_mic), sink=NullSink(), timeouts=timeouts
    )
    agent_end, officer_end = memory_channel_pair()
    try:
        await agent.prepare()
        await officer.prepare(pre_offer=False)
        await agent_end.send(OfferMessage(seq=0, room=ROOM, sdp=await agent.create_offer()))
        offer = await officer_end.recv()
        assert isinstance(offer, OfferMessage)
        answer = await officer.accept_offer(offer.sdp)
        unreachable = re.sub(r"a=candidate:[^\r\n]*\r\n", "", answer)
        assert "a=candidate" not in unreachable
        await officer.close()  # and the officer is gone for good
        await agent.accept_answer(unreachable)
        started = time.perf_counter()
        with pytest.raises(PeerTimeout) as caught:
            await agent.wait_connected()
        elapsed = time.perf_counter() - started
        assert caught.value.phase == "connect"
        assert 0.5 <= elapsed < 1.2
        metrics = agent.metrics()
        assert metrics.signaling_ms is not None
        assert metrics.dtls_ms is None
        assert not metrics.connected
        with pytest.raises(PeerTimeout) as no_media:
            await agent.wait_first_frame()
        assert no_media.value.phase == "first_frame"
    finally:
        await agent.close()
        await officer.close()
        mic.stop()
        officer_mic.stop()


async def test_bye_before_the_answer_fails_the_call_at_once() -> None:
    mic = ToneMicrophone()
    agent = AgentPeer(
        build_configuration([]), CallMedia(audio=mic), sink=NullSink(), timeouts=PeerTimeouts(answer_s=5)
    )
    agent_end, officer_end = memory_channel_pair()
    await officer_end.send(ByeMessage(seq=0, room=ROOM, reason="hangup"))
    try:
        await agent.prepare()
        started = time.perf_counter()
        with pytest.raises(PeerFailed, match="hangup"):
            await place_call(agent, agent_end, room=ROOM, seq=SeqCounter())
        assert time.perf_counter() - started < 1.0
    finally:
        await agent.close()
        mic.stop()


async def test_unusable_answer_is_a_peer_error_and_a_closed_peer_refuses_work() -> None:
    mic = ToneMicrophone()
    agent = AgentPeer(build_configuration([]), CallMedia(audio=mic), sink=NullSink())
    try:
        await agent.prepare()
        await agent.create_offer()
        with pytest.raises(PeerFailed):
            await agent.accept_answer("v=0\r\nthis is not an answer\r\n")
    finally:
        await agent.close()
        mic.stop()
    with pytest.raises(PeerFailed, match="closed"):
        await agent.create_offer()
    with pytest.raises(PeerFailed, match="closed"):
        await agent.accept_answer(AnswerMessage(seq=1, room=ROOM, sdp="v=0").sdp)


async def test_a_peer_prepared_as_offerer_refuses_to_answer() -> None:
    mic = ToneMicrophone()
    offerer = AgentPeer(build_configuration([]), CallMedia(audio=mic), sink=NullSink())
    other = AgentPeer(build_configuration([]), CallMedia(audio=mic), sink=NullSink())
    try:
        await offerer.prepare()
        await other.prepare()
        with pytest.raises(PeerFailed, match="prepared with an offer"):
            await offerer.accept_offer(await other.create_offer())
    finally:
        await offerer.close()
        await other.close()
        mic.stop()


async def test_a_silent_stun_server_makes_prepare_time_out_not_hang() -> None:
    # A local UDP socket that never answers stands in for an unreachable STUN server (no traffic leaves).
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    mic = ToneMicrophone()
    peer = AgentPeer(
        build_configuration([IceServer(urls=[f"stun:127.0.0.1:{port}"])]),
        CallMedia(audio=mic),
        sink=NullSink(),
        timeouts=PeerTimeouts(gather_s=0.3),
    )
    try:
        started = time.perf_counter()
        with pytest.raises(PeerTimeout) as caught:
            await peer.prepare()
        assert caught.value.phase == "gather"
        assert time.perf_counter() - started < 1.0
    finally:
        await peer.close()
        mic.stop()
        transport.close()
