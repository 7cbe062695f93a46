"""The counter camera as the guided steps see it: full-resolution BGR frames on demand.

The 申請書ID QR code, the document stills and the application photo all read frames from here (never from
the call's rescaled VP8 picture). `SceneCamera` is the synthetic one (demo, tests: this machine has no
camera); a picture can be put in front of it, as a clerk would hold a form or an ID card up to a real one.
`TrackCamera` reads any aiortc video track, e.g. a device opened with rtc/sources.open_devices.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame
from av.video.reformatter import VideoReformatter
from numpy.typing import NDArray

from clerk_agent.photo.faces import FaceLook, camera_frame, contrasting
from clerk_agent.rtc.errors import CaptureError
from clerk_agent.rtc.pattern import PatternPainter
from clerk_agent.rtc.sources import SyntheticCamera

Image = NDArray[np.uint8]


class CounterCamera(Protocol):
    """A source of full-resolution BGR frames."""

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of every frame."""

    async def frame(self) -> Image:
        """The newest frame (BGR, full resolution)."""

    def close(self) -> None:
        """Release the camera."""


class SceneCamera:
    """Synthetic camera: an invented person or the moving test pattern, or a still picture held up with `show`.

    `person` is who sits in front of it (faces.py draws them, blinking and swaying a little); None shows the
    test pattern instead, which the call tests read frame codes from. `cardholder` is the virtual card's
    person, kept so that the demo can switch between them and someone else (`seat`).
    """

    def __init__(
        self,
        width: int = 1280,
        height: int = 960,
        *,
        person: FaceLook | None = None,
        cardholder: FaceLook | None = None,
    ) -> None:
        self._painter = PatternPainter(width, height)
        self._index = 0
        self._scene: Image | None = None
        self.person = person
        self.cardholder = cardholder

    def seat(self, who: str) -> None:
        """Who sits in front of the camera: "cardholder", "other" (a plainly different person) or "nobody"."""
        if who == "nobody":
            self.person = None
        elif who in {"cardholder", "other"} and self.cardholder is not None:
            self.person = self.cardholder if who == "cardholder" else contrasting(self.cardholder)
        else:
            raise ValueError(f"cannot seat {who!r} in front of this camera")

    @property
    def seated(self) -> str:
        """Who sits there now, in `seat`'s words."""
        if self.person is None:
            return "nobody"
        return "cardholder" if self.person == self.cardholder else "other"

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self._painter.width, self._painter.height

    def show(self, picture: Image | None) -> None:
        """Put `picture` (BGR) in front of the camera, scaled to fit on a grey counter top; None: the pattern."""
        if picture is None:
            self._scene = None
            return
        import cv2

        width, height = self.size
        scale = min(width / picture.shape[1], height / picture.shape[0], 1.0)
        fitted = cv2.resize(picture, (int(picture.shape[1] * scale), int(picture.shape[0] * scale)))
        scene = np.full((height, width, 3), 96, dtype=np.uint8)
        top, left = (height - fitted.shape[0]) // 2, (width - fitted.shape[1]) // 2
        scene[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
        self._scene = scene

    @property
    def scene(self) -> Image | None:
        """What is held up to the camera (BGR, full resolution), or None for the pattern."""
        return self._scene

    async def frame(self) -> Image:
        """The current scene, or the next pattern frame."""
        await asyncio.sleep(0)
        if self._scene is not None:
            return self._scene.copy()
        import cv2

        if self.person is not None:
            self._index += 1
            width, height = self.size
            rgb = np.asarray(camera_frame(self.person, width, height, self._index))
            face: Image = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # type: ignore[assignment]
            return face
        buffer = self._painter.new_buffer()
        self._painter.paint(buffer, self._index, f"{self._index:06d}")
        self._index += 1
        bgr: Image = cv2.cvtColor(buffer, cv2.COLOR_YUV2BGR_I420)  # type: ignore[assignment]
        return bgr

    def close(self) -> None:
        """Nothing to release."""


class SceneTrack(SyntheticCamera):
    """The call's picture from the synthetic counter camera: what is held up to it, else its person or pattern.

    The officer sees the same form or ID card that the stills are taken of, as with one real camera.
    """

    def __init__(self, scene: SceneCamera, width: int = 640, height: int = 480, fps: int = 15) -> None:
        super().__init__(width, height, fps)
        self._camera = scene
        self._shown: tuple[Image, Image] | None = None  # (the scene, its I420 picture at the call's size)

    def picture(self, index: int) -> VideoFrame:
        """The held-up scene at the call's size (converted once per scene), else the pattern."""
        picture = self._camera.scene
        person = self._camera.person
        if picture is None and person is not None:
            import cv2

            width, height = self.size
            rgb = np.asarray(camera_frame(person, width, height, index, self.fps))
            face: Image = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)  # type: ignore[assignment]
            return VideoFrame.from_ndarray(face, format="yuv420p")
        if picture is None:
            return super().picture(index)
        if self._shown is None or self._shown[0] is not picture:
            import cv2

            resized = cv2.resize(picture, self.size, interpolation=cv2.INTER_AREA)
            i420: Image = cv2.cvtColor(resized, cv2.COLOR_BGR2YUV_I420)  # type: ignore[assignment]
            self._shown = (picture, i420)
        return VideoFrame.from_ndarray(self._shown[1], format="yuv420p")


class TrackCamera:
    """Frames of an aiortc video track (a real camera) converted to BGR at full resolution."""

    def __init__(self, track: MediaStreamTrack, size: tuple[int, int]) -> None:
        self._track = track
        self._size = size
        self._reformatter = VideoReformatter()

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) as the device was opened."""
        return self._size

    async def frame(self) -> Image:
        """The track's next frame; CaptureError when the camera stopped."""
        try:
            frame = await self._track.recv()
        except MediaStreamError as exc:
            raise CaptureError("the camera has stopped") from exc
        if not isinstance(frame, VideoFrame):
            raise CaptureError("the camera track yielded no video frame")
        bgr: Image = self._reformatter.reformat(frame, format="bgr24").to_ndarray()  # type: ignore[assignment]
        return bgr

    def close(self) -> None:
        """Stop the track."""
        self._track.stop()
