"""The officer's camera as the applicant's screen shows it: the latest decoded frame, as a JPEG on request.

The officer's picture arrives over the call's WebRTC link (docs/live-link.md §1) and is decoded by aiortc. The
applicant's screen is a page of the agent's own local UI, so the simplest robust way to show it there is to relay
the latest frame as a JPEG that the page fetches a few times a second: no second WebRTC link, nothing leaves the
counter PC. A frame is encoded only when the page asks and only once per new frame.
"""

from __future__ import annotations

import time
from typing import Final

import cv2
from av import VideoFrame
from av.frame import Frame

STALE_S: Final = 1.5  # no officer frame for this long: the officer's camera is off (or the link dropped)
MAX_WIDTH: Final = 640


class OfficerVideo:
    """Keeps the officer's latest video frame and when it came (deliver runs on the event loop: no encoding)."""

    def __init__(self) -> None:
        self.frames = 0
        self._latest: VideoFrame | None = None
        self._at: float | None = None
        self._encoded: tuple[int, bytes] | None = None

    def deliver(self, frame: Frame) -> None:
        """Take one decoded frame of the officer's video track."""
        if isinstance(frame, VideoFrame):
            self.frames += 1
            self._latest = frame
            self._at = time.monotonic()

    @property
    def live(self) -> bool:
        """Whether the officer's picture is arriving now."""
        return self._at is not None and time.monotonic() - self._at < STALE_S

    def reset(self) -> None:
        """Forget the picture (a call ended)."""
        self._latest, self._at, self._encoded = None, None, None

    def jpeg(self) -> bytes | None:
        """The latest frame as JPEG (None when the picture is not live); blocking: call it off the loop."""
        frame, number = self._latest, self.frames
        if frame is None or not self.live:
            return None
        if self._encoded is not None and self._encoded[0] == number:
            return self._encoded[1]
        width, height = frame.width, frame.height
        if width > MAX_WIDTH:
            width, height = MAX_WIDTH, round(height * MAX_WIDTH / width)
        bgr = frame.reformat(width=width, height=height, format="bgr24").to_ndarray()
        ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 75])
        if not ok:
            return None
        data = bytes(encoded.tobytes())
        self._encoded = (number, data)
        return data
