"""The `call` fixture: two real aiortc peers in one loop: the agent (synthetic camera and tone) and an officer stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from clerk_agent.rtc.call import place_call, take_call
from clerk_agent.rtc.channel import MemoryChannel, memory_channel_pair
from clerk_agent.rtc.ice import build_configuration
from clerk_agent.rtc.peer import AgentPeer, CallMedia, PeerTimeouts
from clerk_agent.rtc.relay import CameraFeed
from clerk_agent.rtc.sinks import RecorderSink
from clerk_agent.rtc.sources import SyntheticCamera, ToneMicrophone
from service.wire.signaling import SeqCounter

ROOM = "case_test0000000000000000000"
CAMERA_SIZE = (1280, 960)  # larger than the call's 640×480, so a still can prove it is not a video frame
AGENT_TONE_HZ = 440.0
OFFICER_TONE_HZ = 660.0
TIMEOUTS = PeerTimeouts(answer_s=3.0, connect_s=3.0, first_frame_s=3.0)


@dataclass
class Call:
    """Everything a connected test call holds."""

    feed: CameraFeed
    agent: AgentPeer
    officer: AgentPeer
    agent_heard: RecorderSink
    officer_saw: RecorderSink
    agent_channel: MemoryChannel
    officer_channel: MemoryChannel


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    """A connected agent ↔ officer call over the in-memory channel; everything is closed afterwards."""
    camera = SyntheticCamera(*CAMERA_SIZE)
    feed = CameraFeed(camera, call_size=(640, 480))
    agent_mic = ToneMicrophone(AGENT_TONE_HZ)
    officer_mic = ToneMicrophone(OFFICER_TONE_HZ)
    agent_heard, officer_saw = RecorderSink(), RecorderSink()
    agent = AgentPeer(
        build_configuration([]),
        CallMedia(video=feed.call_track(), audio=agent_mic),
        sink=agent_heard,
        timeouts=TIMEOUTS,
    )
    officer = AgentPeer(
        build_configuration([]),
        CallMedia(audio=officer_mic, receive=frozenset({"audio", "video"})),
        sink=officer_saw,
        timeouts=TIMEOUTS,
    )
    agent_channel, officer_channel = memory_channel_pair()
    try:
        await agent.prepare()
        await officer.prepare(pre_offer=False)
        await place_call_and_take(agent, officer, agent_channel, officer_channel)
        await agent.wait_connected()
        await officer.wait_connected()
        yield Call(feed, agent, officer, agent_heard, officer_saw, agent_channel, officer_channel)
    finally:
        await agent.close()
        await officer.close()
        await feed.close()
        agent_mic.stop()
        officer_mic.stop()


async def place_call_and_take(
    agent: AgentPeer, officer: AgentPeer, agent_channel: MemoryChannel, officer_channel: MemoryChannel
) -> None:
    """Run the offer/answer exchange between the two peers."""
    taking = take_call(officer, officer_channel, room=ROOM, seq=SeqCounter())
    placing = place_call(agent, agent_channel, room=ROOM, seq=SeqCounter())
    async with asyncio.TaskGroup() as group:
        group.create_task(taking)
        group.create_task(placing)
