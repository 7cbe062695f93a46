"""Where the far side's media goes: the officer's voice to the counter's speaker, or to a recorder in tests."""

from __future__ import annotations

from collections import deque
from typing import Protocol

import numpy as np
from av import AudioFrame, VideoFrame
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
