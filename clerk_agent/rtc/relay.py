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

from clerk_agent.rtc.vp8 import COUNTER_VP8, RateHint, Vp8Settings


class CallVideoTrack(MediaStreamTrack):
    """The call's picture from a camera subscription: at the frame rate the link is worth, in yuv420p at call size.

    Frames come in at the camera's rate. With a `RateHint` (docs/live-link.md §11) the track passes on only as
    many per second as the encoder's current bitrate is worth and drops the rest before any conversion; the
    ones it keeps are converted to yuv420p at the call's size in one swscale pass (never twice: the encoder
    then has nothing left to convert). Stills keep the camera's full resolution (their own subscription).
    """

    kind = "video"

    def __init__(
        self, source: MediaStreamTrack, width: int, height: int, *, rate: RateHint | None = None
    ) -> None:
        super().__init__()
        self._source = source
        self.width = width
        self.height = height
        self.rate = rate
        self.dropped = 0
        self._next_due: float | None = None
        # Not frame.reformat(): that caches one reformatter on the shared frame, which a still being
        # encoded in a worker thread may be using at the same time.
        self._reformatter = VideoReformatter()

    async def recv(self) -> Frame | Packet[Stream]:
        """The next source frame that is due, at the call's size and format."""
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            frame = await self._source.recv()
            if not isinstance(frame, VideoFrame):
                return frame
            if self._due(frame):
                break
            self.dropped += 1
        if (frame.width, frame.height) != (self.width, self.height) or frame.format.name != "yuv420p":
            converted = self._reformatter.reformat(
                frame, width=self.width, height=self.height, format="yuv420p"
            )
            converted.pts = frame.pts
            converted.time_base = frame.time_base
            frame = converted
        if self.rate is not None:
            frame.opaque = self.rate  # the encoder writes its bitrate back into it
        return frame

    def _due(self, frame: VideoFrame) -> bool:
        if self.rate is None or frame.pts is None or frame.time_base is None:
            return True
        at = float(frame.pts * frame.time_base)
        interval = 1.0 / self.rate.fps
        if self._next_due is None or at >= self._next_due + interval or at < self._next_due - 2 * interval:
            self._next_due = at + interval  # the first frame, a gap or a clock jump: start afresh
            return True
        if at + 0.002 >= self._next_due:
            self._next_due += interval
            return True
        return False

    def stop(self) -> None:
        """End this track and its relay subscription."""
        super().stop()
        self._source.stop()


class CameraFeed:
    """Owns the camera track and the MediaRelay that fans it out to the call and to still capture."""

    def __init__(
        self,
        camera: MediaStreamTrack,
        *,
        call_size: tuple[int, int] | None = (640, 480),
        adapt_rate: Vp8Settings | None = COUNTER_VP8,
    ) -> None:
        self.camera = camera
        self.call_size = call_size
        self.adapt_rate = adapt_rate
        self._relay = MediaRelay()
        self._subscriptions: list[MediaStreamTrack] = []

    def call_track(self) -> MediaStreamTrack:
        """A subscription for the call: with `call_size`, a CallVideoTrack (rate adapted unless adapt_rate=None)."""
        # Unbuffered: a busy encoder gets the newest frame instead of a growing backlog (aiortc#104).
        track = self.subscribe()
        if not self.call_size:
            return track
        rate = RateHint(self.adapt_rate) if self.adapt_rate is not None else None
        return CallVideoTrack(track, *self.call_size, rate=rate)

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
