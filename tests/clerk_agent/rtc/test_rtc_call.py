"""A real call between the agent's peer and an officer stand-in, over the wire codec."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from av import AudioFrame, VideoFrame

from clerk_agent.rtc.pattern import read_frame_code
from tests.clerk_agent.rtc._call import AGENT_TONE_HZ, OFFICER_TONE_HZ, Call


def _luma(frame: VideoFrame) -> npt.NDArray[np.uint8]:
    plane = frame.to_ndarray(format="yuv420p")
    assert plane.dtype == np.uint8
    return plane[: frame.height].astype(np.uint8)


def _dominant_hz(frames: list[AudioFrame]) -> float:
    # Mono mix of the decoded Opus frames, then the strongest FFT bin.
    samples = np.concatenate(
        [f.to_ndarray().astype(np.float64).reshape(-1, f.layout.nb_channels)[:, 0] for f in frames]
    )
    rate = frames[0].sample_rate
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(spectrum.argmax())])


async def _wait_for(condition: Callable[[], bool], timeout_s: float = 3.0) -> None:
    # Polling is deliberate: the sinks are plain recorders with no event to wait on.
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_far_side_decodes_the_moving_pattern_at_call_size(call: Call) -> None:
    await call.officer.wait_first_frame("video")
    await _wait_for(lambda: call.officer_saw.frames["video"] >= 6)
    frames = list(call.officer_saw.video)
    assert {(f.width, f.height) for f in frames} == {(640, 480)}
    codes = [read_frame_code(_luma(f)) for f in frames]
    # The burnt-in frame code advances: frames are live, in order, not a repeated still.
    assert codes == sorted(codes)
    assert len(set(codes)) == len(codes)
    first, last = _luma(frames[0]), _luma(frames[-1])
    clock_box = (slice(0, 40), slice(0, 300))
    assert not np.array_equal(first[clock_box], last[clock_box])  # the clock ticks
    assert np.abs(first.astype(int) - last.astype(int)).mean() > 5  # the bars and box move


async def test_audio_flows_both_ways_with_the_right_tone(call: Call) -> None:
    await call.officer.wait_first_frame("audio")
    await call.agent.wait_first_frame()  # the agent receives no video: its default is the officer's voice
    await _wait_for(lambda: len(call.agent_heard.audio) >= 25 and len(call.officer_saw.audio) >= 25)
    # The officer hears the counter's 440 Hz and the counter plays the officer's 660 Hz: not silence,
    # not the track looped back.
    assert abs(_dominant_hz(list(call.officer_saw.audio)) - AGENT_TONE_HZ) < 15
    assert abs(_dominant_hz(list(call.agent_heard.audio)) - OFFICER_TONE_HZ) < 15
    assert call.agent_heard.audio_peak > 1000
    assert call.agent_heard.frames["video"] == 0


async def test_metrics_are_recorded_in_order(call: Call) -> None:
    await call.officer.wait_first_frame("video")
    await call.agent.wait_first_frame("audio")
    agent, officer = call.agent.metrics(), call.officer.metrics()
    assert agent.role == "offerer"
    assert officer.role == "answerer"
    assert agent.signaling_ms is not None
    assert agent.ice_ms is not None
    assert agent.dtls_ms is not None
    assert agent.first_audio_ms is not None
    assert 0 < agent.signaling_ms <= agent.ice_ms <= agent.dtls_ms < 3000
    assert agent.dtls_ms < agent.first_audio_ms < 3000
    assert agent.first_frame_ms is None  # the agent receives no video
    assert officer.first_frame_ms is not None
    assert officer.dtls_ms is not None
    assert officer.dtls_ms < officer.first_frame_ms < 3000
    # One process on this host's own address: a direct host ↔ host pair, no STUN, no relay.
    assert (agent.local_candidate, agent.remote_candidate) == ("host", "host")
    assert agent.candidate_pair == "host"
    assert agent.connected
    # The metrics survive the wire as evidence.
    assert type(agent).model_validate_json(agent.model_dump_json()) == agent


async def test_signaling_went_through_the_codec_without_google_stun(call: Call) -> None:
    frames = [json.loads(text) for text in call.agent_channel.sent + call.officer_channel.sent]
    assert [f["type"] for f in frames] == ["offer", "answer"]
    offer, answer = frames[0]["sdp"], frames[1]["sdp"]
    for sdp in (offer, answer):
        assert "typ host" in sdp
        assert "typ srflx" not in sdp  # iceServers=[] is passed: aiortc did not fall back to Google STUN
    assert "VP8/90000" in offer
    assert "H264/90000" not in offer  # codec preference applied to the video transceiver
