"""Synthetic and device sources: pacing, picture, tone, and the capture format per OS."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from clerk_agent.rtc.pattern import PatternPainter, read_frame_code
from clerk_agent.rtc.sources import (
    CaptureInput,
    DeviceSettings,
    SyntheticCamera,
    ToneMicrophone,
    capture_inputs,
    open_devices,
    synthetic_source,
)


@pytest.mark.parametrize("size", [(640, 480), (1280, 720), (1920, 1080), (320, 240)])
@pytest.mark.parametrize("index", [0, 1, 4097, 2**24 - 1])
def test_frame_code_round_trips_at_any_size_and_after_rescaling(size: tuple[int, int], index: int) -> None:
    painter = PatternPainter(*size)
    buffer = painter.new_buffer()
    painter.paint(buffer, index, "09:30:00.000")
    assert read_frame_code(buffer[: size[1]]) == index
    rescaled = VideoFrame.from_ndarray(buffer, format="yuv420p").reformat(width=640, height=480)
    assert read_frame_code(rescaled.to_ndarray(format="yuv420p")[:480]) == index


def test_pattern_refuses_sizes_it_cannot_draw() -> None:
    with pytest.raises(ValueError, match="pattern size"):
        PatternPainter(641, 480)


async def test_synthetic_camera_is_paced_and_numbered() -> None:
    camera = SyntheticCamera(640, 480, fps=30, clock=lambda: 0.0)
    try:
        started = time.perf_counter()
        frames = [await camera.recv() for _ in range(7)]
        elapsed = time.perf_counter() - started
    finally:
        camera.stop()
    assert 0.15 < elapsed < 0.6  # 6 intervals of 33 ms; a free-running source would take ~0
    assert all(isinstance(f, VideoFrame) and (f.width, f.height) == (640, 480) for f in frames)
    video = [f for f in frames if isinstance(f, VideoFrame)]
    assert [read_frame_code(f.to_ndarray(format="yuv420p")[:480]) for f in video] == list(range(7))
    assert [f.pts for f in video] == [i * 3000 for i in range(7)]  # 90 kHz clock at 30 fps


async def test_stopping_a_camera_ends_a_pending_recv_at_once() -> None:
    camera = SyntheticCamera(640, 480, fps=1)
    await camera.recv()
    pending = asyncio.ensure_future(camera.recv())  # due in 1 s
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    camera.stop()
    with pytest.raises(MediaStreamError):
        await pending
    assert time.perf_counter() - started < 0.2


async def test_tone_is_continuous_at_its_frequency() -> None:
    source = synthetic_source()
    assert source.video_size == (640, 480)
    assert isinstance(source.audio, ToneMicrophone)
    try:
        frames = [await source.audio.recv() for _ in range(5)]
    finally:
        source.stop()
    audio = [f for f in frames if isinstance(f, AudioFrame)]
    samples = np.concatenate([f.to_ndarray()[0] for f in audio]).astype(np.float64)
    assert all(f.sample_rate == 48_000 and f.samples == 960 for f in audio)
    assert [f.pts for f in audio] == [i * 960 for i in range(5)]
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.fft.rfftfreq(samples.size, 1 / 48_000)[spectrum.argmax()] - 440) < 15
    # No clicks at frame boundaries: the phase carries over.
    assert np.abs(np.diff(samples)).max() < 0.1 * 32767


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        (
            "Linux",
            [
                CaptureInput("/dev/video0", "v4l2", {"video_size": "1920x1080", "framerate": "30"}),
                CaptureInput("hw:1", "alsa"),
            ],
        ),
        ("Darwin", [CaptureInput("0:1", "avfoundation", {"video_size": "1920x1080", "framerate": "30"})]),
        (
            "Windows",
            [
                CaptureInput(
                    "video=/dev/video0:audio=hw:1", "dshow", {"video_size": "1920x1080", "framerate": "30"}
                )
            ],
        ),
    ],
)
def test_capture_format_follows_the_os(system: str, expected: list[CaptureInput]) -> None:
    names = {"Linux": ("/dev/video0", "hw:1"), "Darwin": ("0", "1"), "Windows": ("/dev/video0", "hw:1")}
    camera, microphone = names[system]
    assert capture_inputs(DeviceSettings(camera=camera, microphone=microphone), system) == expected


def test_capture_inputs_for_a_camera_only_counter_and_an_unknown_os() -> None:
    assert capture_inputs(DeviceSettings(camera="0", microphone=None), "Darwin") == [
        CaptureInput("0:none", "avfoundation", {"video_size": "1920x1080", "framerate": "30"})
    ]
    assert capture_inputs(DeviceSettings(camera=None, microphone=None), "Windows") == []
    with pytest.raises(ValueError, match="no capture format"):
        capture_inputs(DeviceSettings(camera="0", microphone=None), "Plan9")


async def test_device_path_opens_through_pyav() -> None:
    # No camera here: lavfi's test source goes through the same MediaPlayer path as v4l2 would.
    source = await open_devices(
        [CaptureInput("testsrc=size=320x240:rate=30", "lavfi", {"video_size": "320x240"})]
    )
    try:
        assert source.video is not None
        assert source.audio is None
        assert source.video_size == (320, 240)
        frame = await source.video.recv()
        assert isinstance(frame, VideoFrame)
        assert (frame.width, frame.height) == (320, 240)
    finally:
        source.stop()
