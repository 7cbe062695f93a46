"""Where the counter's picture and sound come from: a synthetic camera and tone, or real devices through PyAV.

The synthetic pair serves the demo, the tests and the benches (this machine has no camera or sound card).
Real devices are opened with aiortc's MediaPlayer in the capture format of the OS: v4l2/ALSA on Linux,
AVFoundation on macOS, DirectShow on Windows.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame
from av.frame import Frame
from av.packet import Packet
from av.stream import Stream

from clerk_agent.rtc.pattern import PatternPainter, Plane

VIDEO_CLOCK_RATE: Final = 90_000
AUDIO_RATE: Final = 48_000
AUDIO_PTIME: Final = 0.020  # 20 ms, the Opus frame aiortc sends


class _Pacer:
    """Sleeps until a frame's due time; `wake()` ends the sleep at once so a stopped track returns promptly."""

    def __init__(self) -> None:
        self._start: float | None = None
        self._sleeper: asyncio.Future[None] | None = None

    async def wait_for(self, due_s: float) -> None:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        delay = self._start + due_s - loop.time()
        if delay <= 0:
            return
        self._sleeper = loop.create_future()
        handle = loop.call_later(delay, _resolve, self._sleeper)
        try:
            await self._sleeper
        finally:
            handle.cancel()
            self._sleeper = None

    def wake(self) -> None:
        if self._sleeper is not None:
            _resolve(self._sleeper)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class SyntheticCamera(MediaStreamTrack):
    """A camera stand-in: moving bars, a bouncing box, a burnt-in clock and a frame code, at `fps`."""

    kind = "video"

    def __init__(
        self, width: int = 640, height: int = 480, fps: int = 30, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__()
        self._painter = PatternPainter(width, height)
        self.fps = fps
        self._clock = clock
        self._index = 0
        self._pacer = _Pacer()

    @property
    def size(self) -> tuple[int, int]:
        """The full resolution (width, height) of every frame."""
        return self._painter.width, self._painter.height

    async def recv(self) -> Frame | Packet[Stream]:
        """The next frame, paced to `fps`."""
        if self.readyState != "live":
            raise MediaStreamError
        index = self._index
        await self._pacer.wait_for(index / self.fps)
        if self.readyState != "live":
            raise MediaStreamError
        self._index += 1
        frame = self.picture(index)
        frame.pts = index * VIDEO_CLOCK_RATE // self.fps
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        return frame

    def picture(self, index: int) -> VideoFrame:
        """Frame `index`'s picture: the pattern with the burnt-in clock (timing is recv's)."""
        # A fresh frame each time: the encoder, the relay's other consumers and a still may all hold one.
        # Painted in the frame's own planes: no buffer to zero and no copy into the frame afterwards.
        frame = VideoFrame(self._painter.width, self._painter.height, "yuv420p")
        now = self._clock()
        millis = int(now * 1000) % 1000
        text = time.strftime("%H:%M:%S", time.localtime(now)) + f".{millis:03d}"
        self._painter.paint_planes(*frame_planes(frame), index, text)
        return frame

    def stop(self) -> None:
        """End the track; a pending recv returns at once."""
        super().stop()
        self._pacer.wake()


def frame_planes(frame: VideoFrame) -> tuple[Plane, Plane, Plane]:
    """Writable numpy views of a yuv420p frame's Y, U and V planes (row padding cut off)."""
    views = []
    for plane in frame.planes:
        rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, plane.line_size)
        views.append(rows[:, : plane.width])
    return views[0], views[1], views[2]


class ToneMicrophone(MediaStreamTrack):
    """A microphone stand-in: a continuous sine tone, 48 kHz mono, 20 ms frames."""

    kind = "audio"

    def __init__(self, frequency_hz: float = 440.0, level: float = 0.2) -> None:
        super().__init__()
        self.frequency_hz = frequency_hz
        self._amplitude = int(32767 * level)
        self._samples = 0
        self._pacer = _Pacer()
        # A whole-hertz tone repeats every second: one second of samples, computed once.
        self._second: npt.NDArray[np.int16] | None = (
            self._wave(np.arange(AUDIO_RATE)) if float(frequency_hz).is_integer() else None
        )

    def _wave(self, sample_numbers: npt.NDArray[np.int_]) -> npt.NDArray[np.int16]:
        t = sample_numbers / AUDIO_RATE
        return (self._amplitude * np.sin(2 * math.pi * self.frequency_hz * t)).astype(np.int16)

    async def recv(self) -> Frame | Packet[Stream]:
        """The next 20 ms of tone."""
        if self.readyState != "live":
            raise MediaStreamError
        count = int(AUDIO_RATE * AUDIO_PTIME)
        await self._pacer.wait_for(self._samples / AUDIO_RATE)
        if self.readyState != "live":
            raise MediaStreamError
        start = self._samples % AUDIO_RATE
        if self._second is not None and start + count <= AUDIO_RATE:
            wave = self._second[start : start + count]
        else:
            wave = self._wave(np.arange(count) + self._samples)
        frame = AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._samples += count
        return frame

    def stop(self) -> None:
        """End the track; a pending recv returns at once."""
        super().stop()
        self._pacer.wake()


@dataclass(frozen=True)
class DeviceSettings:
    """Which real devices to open; names are as the OS lists them (e.g. /dev/video0, hw:1, "FaceTime HD Camera")."""

    camera: str | None
    microphone: str | None
    video_size: str = "1920x1080"  # the camera's full resolution: stills are taken at this size
    framerate: int = 30


@dataclass(frozen=True)
class CaptureInput:
    """One `av.open` call: the device string, its FFmpeg input format and options."""

    file: str
    format: str
    options: dict[str, str] = field(default_factory=dict)


def capture_inputs(settings: DeviceSettings, system: str | None = None) -> list[CaptureInput]:
    """The inputs to open for `settings` on `system` (default: this OS), video first."""
    system = system or platform.system()
    video_options = {"video_size": settings.video_size, "framerate": str(settings.framerate)}
    if system == "Linux":
        inputs = []
        if settings.camera:
            inputs.append(CaptureInput(settings.camera, "v4l2", video_options))
        if settings.microphone:
            inputs.append(CaptureInput(settings.microphone, "alsa"))
        return inputs
    if system == "Darwin":
        # AVFoundation opens camera and microphone as one input, "video:audio", with "none" for either.
        device = f"{settings.camera or 'none'}:{settings.microphone or 'none'}"
        options = video_options if settings.camera else {}
        return (
            [CaptureInput(device, "avfoundation", options)] if settings.camera or settings.microphone else []
        )
    if system == "Windows":
        parts = [f"video={settings.camera}"] if settings.camera else []
        parts += [f"audio={settings.microphone}"] if settings.microphone else []
        options = video_options if settings.camera else {}
        return [CaptureInput(":".join(parts), "dshow", options)] if parts else []
    raise ValueError(f"no capture format known for {system!r}")


class _EndableTrack(MediaStreamTrack):
    """Wraps a MediaPlayer track so that stop() also ends a pending recv.

    aiortc's PlayerStreamTrack leaves a waiting recv() pending forever once its worker thread is told
    to quit, which would strand MediaRelay's reader task.
    """

    def __init__(self, inner: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = inner.kind
        self._inner = inner
        self._ended = asyncio.Event()

    async def recv(self) -> Frame | Packet[Stream]:
        if self.readyState != "live":
            raise MediaStreamError
        reading = asyncio.ensure_future(self._inner.recv())
        ending = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait({reading, ending}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reading, ending):
                if not task.done():
                    task.cancel()
        if not reading.done() or reading.cancelled():
            raise MediaStreamError
        return reading.result()

    def stop(self) -> None:
        super().stop()
        self._ended.set()
        self._inner.stop()


@dataclass
class MediaSource:
    """The counter's camera and microphone, whatever their origin; `video_size` is the camera's full resolution."""

    video: MediaStreamTrack | None
    audio: MediaStreamTrack | None
    video_size: tuple[int, int] | None

    def stop(self) -> None:
        """Stop both tracks (device players release the camera and microphone)."""
        for track in (self.video, self.audio):
            if track is not None:
                track.stop()


def synthetic_source(width: int = 640, height: int = 480, fps: int = 30) -> MediaSource:
    """The demo/test source: a SyntheticCamera and a ToneMicrophone."""
    camera = SyntheticCamera(width, height, fps)
    return MediaSource(video=camera, audio=ToneMicrophone(), video_size=camera.size)


async def open_devices(inputs: list[CaptureInput]) -> MediaSource:
    """Open real capture inputs with PyAV; device opening blocks, so it runs in a thread."""
    video: MediaStreamTrack | None = None
    audio: MediaStreamTrack | None = None
    video_size: tuple[int, int] | None = None
    for capture in inputs:
        player = await asyncio.to_thread(
            MediaPlayer, capture.file, format=capture.format, options=capture.options or None
        )
        if video is None and player.video is not None:
            video = _EndableTrack(player.video)
            width, _, height = capture.options.get("video_size", "").partition("x")
            video_size = (int(width), int(height)) if width.isdigit() and height.isdigit() else None
        if audio is None and player.audio is not None:
            audio = _EndableTrack(player.audio)
    return MediaSource(video=video, audio=audio, video_size=video_size)
