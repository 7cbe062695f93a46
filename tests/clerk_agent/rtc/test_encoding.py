"""Encoders on their own threads, and Opus without a resampler when the frame needs none (docs/live-link.md §11)."""

from __future__ import annotations

import asyncio
import fractions
import gc
import threading
from collections.abc import Iterator

import numpy as np
import pytest
from aiortc import RTCRtpCodecParameters, rtcrtpsender
from aiortc.codecs import base
from aiortc.codecs.opus import OpusDecoder, OpusEncoder
from aiortc.jitterbuffer import JitterFrame
from av import AudioFrame
from av.frame import Frame
from av.packet import Packet
from av.stream import Stream

import clerk_agent.rtc.peer  # noqa: F401 - installs the encoders as the agent does
from clerk_agent.rtc import encoding
from clerk_agent.rtc.encoding import CounterOpusEncoder, EncoderExecutor

RATE = 48_000


def _tone(count: int, *, layout: str = "mono", rate: int = RATE, samples: int = 960) -> Iterator[AudioFrame]:
    channels = 2 if layout == "stereo" else 1
    for index in range(count):
        t = (np.arange(samples) + index * samples) / rate
        wave = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
        frame = AudioFrame.from_ndarray(np.repeat(wave, channels).reshape(1, -1), format="s16", layout=layout)
        frame.sample_rate = rate
        frame.pts = index * samples
        frame.time_base = fractions.Fraction(1, rate)
        yield frame


def _decoded_peak_hz(payloads: list[bytes]) -> float:
    decoder = OpusDecoder()
    pcm = []
    for number, payload in enumerate(payloads):
        for frame in decoder.decode(JitterFrame(data=payload, timestamp=number * 960)):
            assert isinstance(frame, AudioFrame)
            pcm.append(frame.to_ndarray().reshape(-1, 2)[:, 0])  # the officer's decoder is always stereo
    signal = np.concatenate(pcm)[RATE // 10 :].astype(np.float64)
    return float(np.argmax(np.abs(np.fft.rfft(signal))) * RATE / len(signal))


def _encode_all(encoder: OpusEncoder, frames: Iterator[AudioFrame]) -> tuple[list[bytes], list[int]]:
    payloads: list[bytes] = []
    stamps: list[int] = []
    for frame in frames:
        out, stamp = encoder.encode(frame)
        if out:
            payloads += out
            stamps.append(stamp)
    return payloads, stamps


def test_the_agent_encodes_opus_with_the_counter_encoder() -> None:
    get_encoder = rtcrtpsender.__dict__["get_encoder"]
    audio = get_encoder(RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48_000, channels=2))
    assert isinstance(audio, CounterOpusEncoder)


def test_a_mono_microphone_is_coded_as_mono_opus_with_aiortcs_timestamps_and_the_same_tone() -> None:
    ours, stock = CounterOpusEncoder(), OpusEncoder()
    payloads, stamps = _encode_all(ours, _tone(50))
    stock_payloads, stock_stamps = _encode_all(stock, _tone(50))
    assert stamps == stock_stamps == [960 * n for n in range(50)]
    assert ours.codec.layout.name == "mono"
    assert stock.codec.layout.name == "stereo"
    assert not payloads[0][0] & 0x04  # TOC byte: mono packets (aiortc's: stereo, from the upmix)
    assert stock_payloads[0][0] & 0x04
    assert abs(_decoded_peak_hz(payloads) - 440) < 5


class _NoResampler:
    def resample(self, frame: AudioFrame) -> list[AudioFrame]:
        raise AssertionError("resampled a frame Opus takes as it is")


def test_a_stereo_device_frame_goes_straight_to_the_codec() -> None:
    # aiortc's MediaPlayer delivers s16 stereo 48 kHz 20 ms frames: nothing to resample.
    encoder = CounterOpusEncoder()
    encoder.resampler = _NoResampler()  # type: ignore[assignment]
    payloads, stamps = _encode_all(encoder, _tone(20, layout="stereo"))
    assert encoder.codec.layout.name == "stereo"
    assert stamps == [960 * n for n in range(20)]
    assert abs(_decoded_peak_hz(payloads) - 440) < 5


@pytest.mark.parametrize(
    ("rate", "samples"), [(44_100, 441), (48_000, 480)], ids=["44.1 kHz", "10 ms frames"]
)
def test_frames_opus_cannot_take_as_they_are_are_resampled_as_aiortc_does(rate: int, samples: int) -> None:
    encoder = CounterOpusEncoder()
    payloads, stamps = _encode_all(encoder, _tone(100, rate=rate, samples=samples))
    assert stamps == [960 * n for n in range(len(stamps))]
    assert len(payloads) >= 45
    assert abs(_decoded_peak_hz(payloads) - 440) < 5


def test_a_later_frame_of_another_layout_is_resampled_to_the_codecs_layout() -> None:
    encoder = CounterOpusEncoder()
    mono, _ = _encode_all(encoder, _tone(10))
    stereo, _ = _encode_all(encoder, _tone(40, layout="stereo"))
    assert encoder.codec.layout.name == "mono"
    assert len(mono) == 10
    assert len(stereo) >= 39
    assert abs(_decoded_peak_hz(mono + stereo) - 440) < 5


class _Recorder(base.Encoder):
    """Records which thread encodes; fails on request."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        self.threads.append(threading.current_thread())
        if force_keyframe:
            raise ValueError("boom")
        return [b"x"], len(self.threads)

    def pack(self, packet: Packet[Stream]) -> tuple[list[bytes], int]:
        raise NotImplementedError


class _OpusRecorder(CounterOpusEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.threads: list[threading.Thread] = []

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        self.threads.append(threading.current_thread())
        return super().encode(frame, force_keyframe)


async def test_each_encoder_runs_on_its_own_long_lived_thread_and_other_calls_in_the_pool() -> None:
    loop = asyncio.get_running_loop()
    executor = encoding.install()
    assert encoding.install() is executor
    first, second = _Recorder(), _Recorder()
    frame = AudioFrame(format="s16", layout="mono", samples=960)
    for _ in range(3):
        assert await loop.run_in_executor(None, first.encode, frame, False) == ([b"x"], len(first.threads))
        await loop.run_in_executor(None, second.encode, frame, False)
    assert len(set(first.threads)) == 1
    assert len(set(second.threads)) == 1
    assert first.threads[0] is not second.threads[0]
    assert first.threads[0].name == "encoder-_Recorder"
    assert (await asyncio.to_thread(lambda: threading.current_thread().name)).startswith("asyncio")
    opus = _OpusRecorder()  # Opus is cheaper to encode in the loop than to hand to a thread and back
    payloads, _ = await loop.run_in_executor(None, opus.encode, next(_tone(1)), False)
    assert opus.threads == [threading.current_thread()]
    assert payloads
    with pytest.raises(ValueError, match="boom"):
        await loop.run_in_executor(None, first.encode, frame, True)
    assert await loop.run_in_executor(None, first.encode, frame, False) == ([b"x"], 5)  # the lane survives


async def test_a_lane_ends_with_its_encoder_and_all_end_at_shutdown() -> None:
    loop = asyncio.get_running_loop()
    executor = EncoderExecutor()
    frame = AudioFrame(format="s16", layout="mono", samples=960)
    dropped, kept = _Recorder(), _Recorder()
    for encoder in (dropped, kept):
        await loop.run_in_executor(executor, encoder.encode, frame, False)
    dropped_lane, kept_lane = dropped.threads[0], kept.threads[0]
    del dropped, encoder
    gc.collect()
    for _ in range(200):
        if not dropped_lane.is_alive():
            break
        await asyncio.sleep(0.01)
    assert not dropped_lane.is_alive()
    assert kept_lane.is_alive()
    await asyncio.to_thread(executor.shutdown)
    assert not kept_lane.is_alive()
    with pytest.raises(RuntimeError):
        await loop.run_in_executor(executor, kept.encode, frame, False)


async def test_an_inline_encoder_runs_in_the_caller() -> None:
    loop = asyncio.get_running_loop()
    executor = EncoderExecutor(inline=(_Recorder,))
    encoder = _Recorder()
    frame = AudioFrame(format="s16", layout="mono", samples=960)
    assert await loop.run_in_executor(executor, encoder.encode, frame, False) == ([b"x"], 1)
    assert encoder.threads == [threading.current_thread()]
    with pytest.raises(ValueError, match="boom"):
        await loop.run_in_executor(executor, encoder.encode, frame, True)
    executor.shutdown()
