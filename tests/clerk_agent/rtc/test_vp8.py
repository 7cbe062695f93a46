"""The call's VP8 encoder and frame rate: counter settings, fewer keyframes, frames dropped before conversion."""

from __future__ import annotations

import fractions
import itertools

import av
import numpy as np
import pytest
from aiortc import RTCRtpCodecParameters, rtcrtpsender
from aiortc.codecs import vpx
from aiortc.codecs.opus import OpusEncoder
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

import clerk_agent.rtc.peer  # noqa: F401 - installs the encoder as the agent does
from clerk_agent.rtc import aiortc_patch, vp8
from clerk_agent.rtc.pattern import PatternPainter, read_frame_code
from clerk_agent.rtc.relay import CallVideoTrack, CameraFeed
from clerk_agent.rtc.sources import SyntheticCamera, ToneMicrophone, frame_planes
from clerk_agent.rtc.vp8 import CounterVp8Encoder, RateHint, Vp8Settings

TIME_BASE = fractions.Fraction(1, 90_000)


def _frame(
    index: int, *, fps: int = 30, size: tuple[int, int] = (640, 480), fmt: str = "yuv420p"
) -> VideoFrame:
    painter = PatternPainter(*size)
    frame = VideoFrame(*size, "yuv420p")
    painter.paint_planes(*frame_planes(frame), index, "09:30:00.000")
    if fmt != "yuv420p":
        frame = frame.reformat(format=fmt)
    frame.pts = index * 90_000 // fps
    frame.time_base = TIME_BASE
    return frame


def test_the_agent_encodes_vp8_with_counter_settings_and_other_codecs_as_aiortc_does() -> None:
    get_encoder = rtcrtpsender.__dict__["get_encoder"]  # what the sender calls (not re-exported by aiortc)
    assert vp8.install()
    assert vp8.install()
    video = get_encoder(RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90_000))
    audio = get_encoder(RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48_000, channels=2))
    assert isinstance(video, CounterVp8Encoder)
    assert isinstance(audio, OpusEncoder)


def test_encoded_frames_decode_to_the_same_picture_and_the_codec_uses_our_settings() -> None:
    encoder = CounterVp8Encoder()
    decoder = av.CodecContext.create("libvpx", "r")
    codes, stamps = [], []
    for index in range(5):
        payloads, timestamp = encoder.encode(_frame(index), force_keyframe=index == 0)
        stamps.append(timestamp)
        data = b"".join(vpx.vp8_depayload(p) for p in payloads)
        for picture in decoder.decode(av.Packet(data)):
            codes.append(read_frame_code(picture.to_ndarray(format="yuv420p")[:480]))
    assert codes == [0, 1, 2, 3, 4]
    assert all(abs(b - a - 3000) <= 1 for a, b in itertools.pairwise(stamps))  # 90 kHz, 30 fps
    assert encoder.codec is not None
    assert encoder.codec.bit_rate == 500_000
    assert encoder.rebuilds == 1


def test_bitrate_is_held_within_the_counter_bounds() -> None:
    encoder = CounterVp8Encoder()
    encoder.target_bitrate = 5_000_000
    assert encoder.target_bitrate == 1_000_000
    encoder.target_bitrate = 10_000
    assert encoder.target_bitrate == 250_000


def test_small_bitrate_steps_keep_the_codec_and_large_ones_reopen_it() -> None:
    # aiortc reopens its codec — a keyframe — on every 10 % step of the officer's estimate.
    encoder = CounterVp8Encoder()
    encoder.encode(_frame(0))
    first = encoder.codec
    for index, rate in enumerate((550_000, 600_000, 620_000), start=1):  # ≤ 25 % from the opened 500 kbit/s
        encoder.target_bitrate = rate
        encoder.encode(_frame(index))
        assert encoder.codec is first
    encoder.target_bitrate = 700_000
    encoder.encode(_frame(4))
    assert encoder.codec is not first
    assert encoder.rebuilds == 2
    encoder.encode(_frame(5, size=(320, 240)))
    assert encoder.rebuilds == 3  # a new size always reopens


def test_frames_in_another_format_are_converted_once_by_the_encoder_fallback() -> None:
    encoder = CounterVp8Encoder()
    payloads, _ = encoder.encode(_frame(0, fmt="yuvj420p"))
    assert payloads


def test_the_frame_rate_follows_the_bitrate_only_when_the_encoder_is_held_to_it() -> None:
    settings = Vp8Settings()
    hint = RateHint(settings)
    assert hint.fps == 30  # nothing reported yet (another encoder never reports)
    hint.bitrate = 500_000
    assert hint.fps == 30  # an easy picture under its budget: every frame
    hint.limited = True
    assert hint.fps == 15
    hint.bitrate = 250_000
    assert hint.fps == settings.min_fps
    hint.bitrate = 1_000_000
    assert hint.fps == 30


def test_the_encoder_reports_its_bitrate_and_whether_it_fills_it() -> None:
    hint = RateHint()
    encoder = CounterVp8Encoder(Vp8Settings(start_bitrate=250_000, min_bitrate=250_000))
    rng = np.random.default_rng(7)
    for index in range(40):
        frame = VideoFrame.from_ndarray(rng.integers(0, 256, (720, 640), dtype=np.uint8), format="yuv420p")
        frame.pts, frame.time_base, frame.opaque = index * 3000, TIME_BASE, hint
        encoder.encode(frame)
    assert hint.bitrate == 250_000
    assert hint.limited  # noise at 250 kbit/s: the bitrate is the limit


class _Frames:
    """A stand-in subscription: the given frames, then the end of the track."""

    def __init__(self, frames: list[VideoFrame]) -> None:
        self.frames = frames
        self.stopped = False

    async def recv(self) -> VideoFrame:
        if not self.frames:
            raise MediaStreamError
        return self.frames.pop(0)

    def stop(self) -> None:
        self.stopped = True


async def _drain(track: CallVideoTrack) -> list[VideoFrame]:
    out: list[VideoFrame] = []
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return out
        assert isinstance(frame, VideoFrame)
        out.append(frame)


async def test_a_limited_link_gets_fewer_frames_dropped_before_conversion() -> None:
    hint = RateHint()
    hint.bitrate, hint.limited = 500_000, True  # worth 15 fps
    source = _Frames([_frame(i, size=(1280, 960)) for i in range(30)])
    track = CallVideoTrack(source, 640, 480, rate=hint)  # type: ignore[arg-type]
    frames = await _drain(track)
    assert [read_frame_code(f.to_ndarray(format="yuv420p")[:480]) for f in frames] == list(range(0, 30, 2))
    assert {(f.width, f.height, f.format.name) for f in frames} == {(640, 480, "yuv420p")}
    assert all(f.opaque is hint for f in frames)
    assert track.dropped == 15


async def test_every_frame_passes_unchanged_at_call_size_when_not_limited() -> None:
    hint = RateHint()
    hint.bitrate = 500_000  # under budget: not limited
    originals = [_frame(i) for i in range(10)]
    track = CallVideoTrack(_Frames(list(originals)), 640, 480, rate=hint)  # type: ignore[arg-type]
    frames = await _drain(track)
    assert frames == originals  # no conversion for a frame already right
    track.stop()


async def test_a_device_format_is_converted_even_at_call_size() -> None:
    track = CallVideoTrack(_Frames([_frame(0, fmt="yuvj422p")]), 640, 480)  # type: ignore[arg-type]
    (frame,) = await _drain(track)
    assert frame.format.name == "yuv420p"
    assert frame.opaque is None


async def test_camera_feed_call_track_is_rate_adapted_unless_told_otherwise() -> None:
    adapted = CameraFeed(SyntheticCamera(640, 480, 30))
    fixed = CameraFeed(SyntheticCamera(640, 480, 30), adapt_rate=None)
    try:
        track = adapted.call_track()
        assert isinstance(track, CallVideoTrack)
        assert track.rate is not None
        plain = fixed.call_track()
        assert isinstance(plain, CallVideoTrack)
        assert plain.rate is None
    finally:
        await adapted.close()
        await fixed.close()


@pytest.mark.parametrize("layout", ["mono", "stereo"])
@pytest.mark.parametrize("amplitude", [0, 1, 40, 3000, 32767])
def test_audio_level_patch_gives_aiortcs_own_result(layout: str, amplitude: int) -> None:
    from aiortc import rtp

    assert aiortc_patch.install()
    assert rtp.compute_audio_level_dbov is aiortc_patch.audio_level_dbov
    original = aiortc_patch._original
    assert original is not None
    assert original is not aiortc_patch.audio_level_dbov
    rng = np.random.default_rng(amplitude)
    count = 960 * (2 if layout == "stereo" else 1)
    samples = rng.integers(-amplitude, amplitude + 1, count).astype(np.int16)
    frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout=layout)
    assert aiortc_patch.audio_level_dbov(frame) == original(frame)


async def test_tone_from_its_cached_second_is_the_same_tone() -> None:
    cached, computed = ToneMicrophone(440), ToneMicrophone(440.5)
    try:
        frames = [await cached.recv() for _ in range(60)]  # across the one-second boundary
        samples = np.concatenate([f.to_ndarray().ravel() for f in frames if isinstance(f, AudioFrame)])
        t = np.arange(samples.size) / 48_000
        expected = (int(32767 * 0.2) * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
        assert np.abs(samples.astype(int) - expected.astype(int)).max() <= 1
        assert isinstance(await computed.recv(), AudioFrame)  # a fractional tone is computed per frame
    finally:
        cached.stop()
        computed.stop()
