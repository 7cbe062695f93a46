"""Where the far side's media goes: the officer's voice to the counter's speaker, or to a recorder in tests."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from typing import Protocol

import av
import numpy as np
from av import AudioFrame, AudioResampler, VideoFrame
from av.frame import Frame


class FrameSink(Protocol):
    """Receives every decoded remote frame; called on the event loop, so it must not block."""

    def deliver(self, kind: str, frame: Frame) -> None:
        """Take one decoded frame of a remote `kind` ("audio" or "video") track."""


class NullSink:
    """Discards remote media (a counter without a speaker); still counts it so health checks can see it."""

    def __init__(self) -> None:
        self.frames: dict[str, int] = {"audio": 0, "video": 0}

    def deliver(self, kind: str, frame: Frame) -> None:  # noqa: ARG002 - the protocol's signature
        """Count and drop."""
        self.frames[kind] = self.frames.get(kind, 0) + 1


class RecorderSink:
    """Keeps the last few frames of each kind and the loudest audio sample seen, for tests and diagnostics."""

    def __init__(self, keep_video: int = 8, keep_audio: int = 25) -> None:
        self.frames: dict[str, int] = {"audio": 0, "video": 0}
        self.video: deque[VideoFrame] = deque(maxlen=keep_video)
        self.audio: deque[AudioFrame] = deque(maxlen=keep_audio)
        self.audio_peak = 0

    def deliver(self, kind: str, frame: Frame) -> None:
        """Record one frame."""
        self.frames[kind] = self.frames.get(kind, 0) + 1
        if isinstance(frame, VideoFrame):
            self.video.append(frame)
        elif isinstance(frame, AudioFrame):
            self.audio.append(frame)
            samples = frame.to_ndarray()
            self.audio_peak = max(self.audio_peak, int(np.abs(samples.astype(np.int32)).max(initial=0)))


class SpeakerSink:
    """Plays the officer's voice on the counter's speaker through a PyAV output (ALSA `default` on Linux).

    Counts every frame as NullSink does. Opening the device and writing to it block, so both run on a worker
    thread fed by a short queue; when the queue is full the oldest frame goes (a late voice is worse than a
    gap). A device that cannot be opened leaves the sink counting, with the reason in `error`.
    """

    def __init__(
        self,
        device: str = "default",
        output_format: str = "alsa",
        *,
        rate: int = 48_000,
        layout: str = "mono",
        queue_frames: int = 10,
    ) -> None:
        self.device = device
        self.output_format = output_format
        self.rate = rate
        self.layout = layout
        self.frames: dict[str, int] = {"audio": 0, "video": 0}
        self.played = 0
        self.error: str | None = None
        self._queue: queue.Queue[AudioFrame | None] = queue.Queue(maxsize=queue_frames)
        self._worker: threading.Thread | None = None

    def deliver(self, kind: str, frame: Frame) -> None:
        """Count the frame; queue audio for the speaker."""
        self.frames[kind] = self.frames.get(kind, 0) + 1
        if not isinstance(frame, AudioFrame) or self.error is not None:
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._play, name="speaker-sink", daemon=True)
            self._worker.start()
        while True:
            try:
                self._queue.put_nowait(frame)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()

    def close(self, timeout_s: float = 2.0) -> None:
        """Flush and close the output (blocks up to timeout_s: call it off the event loop)."""
        if self._worker is None:
            return
        while True:
            try:
                self._queue.put(None, timeout=timeout_s)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
        self._worker.join(timeout_s)

    def _play(self) -> None:
        try:
            container = av.open(self.device, mode="w", format=self.output_format)
        except (av.FFmpegError, OSError, ValueError) as exc:
            self.error = f"cannot open {self.output_format}:{self.device}: {exc}"
            return
        try:
            stream = container.add_stream("pcm_s16le", rate=self.rate, layout=self.layout)
            resampler = AudioResampler(format="s16", layout=self.layout, rate=self.rate)
            while (frame := self._queue.get()) is not None:
                for out in resampler.resample(frame):
                    for packet in stream.encode(out):
                        container.mux(packet)
                self.played += 1
            for packet in stream.encode(None):
                container.mux(packet)
        except (av.FFmpegError, OSError, ValueError) as exc:
            self.error = f"speaker output failed: {exc}"
        finally:
            container.close()
