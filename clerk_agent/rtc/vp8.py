"""The call's VP8 encoder, set for a counter picture, and the frame rate the officer's side can take.

aiortc 1.16 builds one `Vp8Encoder` per sender through `aiortc.codecs.get_encoder`, with settings made for a
generic webcam: libvpx speed `cpu-used=-6`, the temporal denoiser on (`noise-sensitivity=4`), up to
1.5 Mbit/s, and a new codec context — so a keyframe — whenever the officer's bandwidth estimate (REMB) moves
by more than 10 %. `CounterVp8Encoder` keeps aiortc's encoder and packetizer and only opens the codec context
with `Vp8Settings` (docs/live-link.md §11); `install()` makes aiortc's sender use it for VP8. It also publishes
the current target bitrate to the call's video track, which turns it into a frame rate (`RateHint`), so a
narrow link gets fewer, better frames instead of more, worse ones.

Dropping it: if aiortc grows a way to pass encoder settings (or a per-sender encoder factory), build the
encoder there and delete `install()`; the test in tests/clerk_agent/rtc/test_vp8.py says what must still hold.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

import av
from aiortc import RTCRtpCodecParameters
from aiortc.codecs import base, vpx
from av import VideoFrame
from av.frame import Frame

from clerk_agent.rtc.encoding import CounterOpusEncoder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Vp8Settings:
    """libvpx settings for the counter's call picture (aiortc's own values in the comments)."""

    cpu_used: int = -16  # fixed speed 16, libvpx's fastest realtime setting (aiortc: -6)
    noise_sensitivity: int = 0  # temporal denoiser off (aiortc: 4)
    start_bitrate: int = 500_000  # until the first REMB arrives (aiortc: 500 kbit/s)
    min_bitrate: int = 250_000  # (aiortc: 250 kbit/s)
    max_bitrate: int = 1_000_000  # a seated person and a document need no more (aiortc: 1.5 Mbit/s)
    rebuild_change: float = 0.25  # reopen the codec (a keyframe) only for a larger change (aiortc: 0.10)
    bits_per_frame: int = 33_000  # the frame rate follows the bitrate: 500 kbit/s → 15 fps, 1 Mbit/s → 30
    min_fps: int = 10
    max_fps: int = 30

    def fps_for(self, bitrate: int) -> int:
        """The frame rate to send at `bitrate`, within min_fps..max_fps."""
        return max(self.min_fps, min(self.max_fps, bitrate // self.bits_per_frame))


COUNTER_VP8: Final = Vp8Settings()
LIMITED_SHARE: Final = 0.85  # output at this share of the target means the bitrate, not the picture, limits


class RateHint:
    """Shared by the call's video track and its encoder: the encoder writes its bitrate, the track reads fps."""

    def __init__(self, settings: Vp8Settings = COUNTER_VP8) -> None:
        self.settings = settings
        self.bitrate: int | None = None  # until an encoder reports (another encoder never does)
        self.limited = False  # the encoder fills its bitrate: the link, not the picture, is the limit

    @property
    def fps(self) -> int:
        """The frame rate the link is worth: max_fps unless the encoder is held to its bitrate."""
        if self.bitrate is None or not self.limited:
            return self.settings.max_fps
        return self.settings.fps_for(self.bitrate)


class CounterVp8Encoder(vpx.Vp8Encoder):
    """aiortc's VP8 encoder, opening its codec context with `Vp8Settings` instead of aiortc's defaults."""

    def __init__(self, settings: Vp8Settings = COUNTER_VP8) -> None:
        super().__init__()
        self.settings = settings
        self._target = self._opened_at = settings.start_bitrate
        self.rebuilds = 0
        self._sent: deque[tuple[float, int]] = deque()  # (frame time, bits) over the last second

    @property
    def target_bitrate(self) -> int:
        """Target bitrate in bits per second (the officer's REMB, within the settings' bounds)."""
        return self._target

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        self._target = max(self.settings.min_bitrate, min(int(bitrate), self.settings.max_bitrate))

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        """Encode one frame; the codec is (re)opened here with our settings, so aiortc's encode keeps it."""
        if not isinstance(frame, VideoFrame):
            return super().encode(frame, force_keyframe)
        hint = frame.opaque
        if frame.format.name != "yuv420p":  # the call track converts; this is aiortc's fallback
            frame = frame.reformat(format="yuv420p")
        if self._needs_codec(frame):
            self.codec = self._open(frame.width, frame.height)
        payloads, timestamp = super().encode(frame, force_keyframe)
        if isinstance(hint, RateHint):
            hint.bitrate = self._target
            hint.limited = self._output_rate(frame, payloads) >= LIMITED_SHARE * self._target
        return payloads, timestamp

    def _output_rate(self, frame: VideoFrame, payloads: list[bytes]) -> float:
        """Bits per second sent over the last second of frames (by their timestamps)."""
        at = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else 0.0
        self._sent.append((at, 8 * sum(len(p) for p in payloads)))
        while self._sent and (self._sent[0][0] < at - 1.0 or self._sent[0][0] > at):
            self._sent.popleft()
        return sum(bits for _, bits in self._sent)

    def _needs_codec(self, frame: VideoFrame) -> bool:
        codec = self.codec
        if codec is None or (frame.width, frame.height) != (codec.width, codec.height):
            return True
        if abs(self._target - self._opened_at) / self._opened_at > self.settings.rebuild_change:
            return True
        # aiortc's encode reopens the codec, with its own settings, when the target and the context's
        # bit_rate differ by 10 %: the field is only read when the codec opens, so align it.
        codec.bit_rate = self._target
        return False

    def _open(self, width: int, height: int) -> Any:
        self.rebuilds += 1
        rate = self._opened_at = self._target
        codec = av.CodecContext.create("libvpx", "w")
        codec.width = width
        codec.height = height
        codec.bit_rate = rate
        codec.pix_fmt = "yuv420p"
        codec.gop_size = 3000
        codec.qmin = 2
        codec.qmax = 56
        codec.options = {
            "bufsize": str(rate),
            "cpu-used": str(self.settings.cpu_used),
            "deadline": "realtime",
            "lag-in-frames": "0",
            "minrate": str(rate),
            "maxrate": str(rate),
            "noise-sensitivity": str(self.settings.noise_sensitivity),
            "overshoot-pct": "15",
            "partitions": "0",
            "static-thresh": "1",
            "undershoot-pct": "100",
        }
        codec.thread_count = vpx.number_of_threads(width * height, os.cpu_count() or 1)
        return codec


_original_get_encoder: Any = None


def _get_encoder(codec: RTCRtpCodecParameters) -> base.Encoder:
    if codec.mimeType.lower() == "video/vp8":
        return CounterVp8Encoder()
    if codec.mimeType.lower() == "audio/opus":
        return CounterOpusEncoder()
    encoder: base.Encoder = _original_get_encoder(codec)
    return encoder


def install() -> bool:
    """Make aiortc's senders encode VP8 with `CounterVp8Encoder` (and Opus with `encoding.CounterOpusEncoder`).

    Idempotent. False if aiortc has changed.
    """
    global _original_get_encoder
    from aiortc import rtcrtpsender

    current = getattr(rtcrtpsender, "get_encoder", None)
    if current is _get_encoder:
        return True
    if current is None or not callable(current) or not hasattr(vpx.Vp8Encoder, "_packetize"):
        logger.warning("aiortc's sender has no get_encoder or VP8 encoder as expected: stock VP8 settings")
        return False
    _original_get_encoder = current
    setattr(rtcrtpsender, "get_encoder", _get_encoder)  # noqa: B010 - not re-exported by aiortc
    return True
