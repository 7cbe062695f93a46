"""SpeakerSink: the officer's voice written through PyAV (a WAV file stands in for the ALSA device here)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
from av import AudioFrame

from clerk_agent.rtc.sinks import SpeakerSink
from clerk_agent.rtc.sources import ToneMicrophone


async def _tone(frames: int) -> list[AudioFrame]:
    mic = ToneMicrophone(440.0, level=0.3)
    try:
        out = []
        for _ in range(frames):
            frame = await mic.recv()
            assert isinstance(frame, AudioFrame)
            out.append(frame)
        return out
    finally:
        mic.stop()


async def test_speaker_sink_plays_every_audio_frame(tmp_path: Path) -> None:
    wav = tmp_path / "speaker.wav"
    # A roomy queue: the test hands frames over faster than real time.
    sink = SpeakerSink(str(wav), "wav", queue_frames=100)
    for frame in await _tone(25):  # 0.5 s
        sink.deliver("audio", frame)
    await asyncio.to_thread(sink.close)
    assert sink.error is None
    assert (sink.frames["audio"], sink.played) == (25, 25)
    with av.open(str(wav)) as container:
        samples = np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
    assert abs(len(samples) - 24_000) <= 960
    assert int(np.abs(samples.astype(np.int32)).max()) > 5000  # the tone, not silence


async def test_without_a_device_the_sink_still_counts(tmp_path: Path) -> None:
    sink = SpeakerSink(str(tmp_path / "missing" / "dir" / "x.wav"), "wav")
    frames = await _tone(3)
    sink.deliver("audio", frames[0])
    await asyncio.to_thread(sink.close)
    for frame in frames[1:]:
        sink.deliver("audio", frame)
    assert sink.error is not None
    assert "No such file" in sink.error
    assert sink.frames["audio"] == 3
    assert sink.played == 0
