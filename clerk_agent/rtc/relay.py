"""One camera, two consumers: the call and document stills share the source through aiortc's MediaRelay."""

from __future__ import annotations

import asyncio

from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame
from av.frame import Frame
from av.packet import Packet
from av.stream import Stream
from av.video.reformatter import VideoReformatter


class ScaledTrack(MediaStreamTrack):
    """Rescales every frame of `source` to the call's size; stills keep the camera's full resolution."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, width: int, height: int) -> None:
        super().__init__()
        self._source = source
        self.width = width
        self.height = height
        # Not frame.reformat(): that caches one reformatter on the shared frame, which a still being
        # encoded in a worker thread may be using at the same time.
        self._reformatter = VideoReformatter()

    async def recv(self) -> Frame | Packet[Stream]:
        """The next source frame at the call's size."""
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._source.recv()
        if not isinstance(frame, VideoFrame) or (frame.width, frame.height) == (self.width, self.height):
            return frame
        scaled = self._reformatter.reformat(frame, width=self.width, height=self.height, format="yuv420p")
        scaled.pts = frame.pts
        scaled.time_base = frame.time_base
        return scaled

    def stop(self) -> None:
        """End this track and its relay subscription."""
        super().stop()
        self._source.stop()


class CameraFeed:
    """Owns the camera track and the MediaRelay that fans it out to the call and to still capture."""

    def __init__(self, camera: MediaStreamTrack, *, call_size: tuple[int, int] | None = (640, 480)) -> None:
        self.camera = camera
        self.call_size = call_size
        self._relay = MediaRelay()
        self._subscriptions: list[MediaStreamTrack] = []

    def call_track(self) -> MediaStreamTrack:
        """A subscription for the call, rescaled to `call_size` when that differs from the camera's."""
        # Unbuffered: a busy encoder gets the newest frame instead of a growing backlog (aiortc#104).
        track = self.subscribe()
        return ScaledTrack(track, *self.call_size) if self.call_size else track

    def subscribe(self) -> MediaStreamTrack:
        """A raw, full-resolution subscription that always yields the newest frame."""
        track = self._relay.subscribe(self.camera, buffered=False)
        self._subscriptions.append(track)
        return track

    async def close(self) -> None:
        """Stop every subscription and the camera; the relay's reader ends with the camera."""
        for track in self._subscriptions:
            track.stop()
        self._subscriptions.clear()
        self.camera.stop()
        # The relay's reader task is aiortc's; it exits on the MediaStreamError that the stopped camera
        # raises on its next recv. Two loop turns let it observe that before the caller moves on.
        for _ in range(2):
            await asyncio.sleep(0)
