"""Document stills (書類の静止画): a separate full-resolution grab from the camera, encoded as PNG or JPEG.

The call carries a rescaled, lossy VP8 picture; a still is taken from the camera's own frame through the
relay, so the evidence keeps the camera's full resolution and never passes through the video encoder.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from aiortc.mediastreams import MediaStreamError
from av import VideoFrame
from av.video.reformatter import VideoReformatter
from PIL import Image

from clerk_agent.rtc.errors import CaptureError
from clerk_agent.rtc.relay import CameraFeed

StillFormat = Literal["png", "jpeg"]


@dataclass(frozen=True)
class Still:
    """One encoded document still."""

    data: bytes
    media_type: str
    width: int
    height: int
    captured_at: datetime


async def capture_still(
    feed: CameraFeed, *, image_format: StillFormat = "png", jpeg_quality: int = 92, timeout_s: float = 2.0
) -> Still:
    """Grab the camera's next frame at full resolution and encode it; CaptureError if none comes in time."""
    subscription = feed.subscribe()
    try:
        async with asyncio.timeout(timeout_s):
            frame = await subscription.recv()
    except TimeoutError as exc:
        raise CaptureError(f"no camera frame within {timeout_s:g} s") from exc
    except MediaStreamError as exc:
        raise CaptureError("the camera has stopped") from exc
    finally:
        subscription.stop()
    captured_at = datetime.now(UTC)
    if not isinstance(frame, VideoFrame):
        raise CaptureError("the camera track yielded no video frame")
    # Colour conversion and PNG/JPEG encoding of a full-resolution frame take tens of ms: off the loop.
    data = await asyncio.to_thread(_encode, frame, image_format, jpeg_quality)
    return Still(
        data=data,
        media_type=f"image/{image_format}",
        width=frame.width,
        height=frame.height,
        captured_at=captured_at,
    )


def _encode(frame: VideoFrame, image_format: StillFormat, jpeg_quality: int) -> bytes:
    # A reformatter of our own: frame.reformat()/to_ndarray() share one cached per-frame reformatter,
    # and the call's scaler may be using it on the loop thread at this moment (PyAV is not thread-safe there).
    rgb = VideoReformatter().reformat(frame, format="rgb24")
    image = Image.fromarray(rgb.to_ndarray())
    out = io.BytesIO()
    if image_format == "jpeg":
        image.save(out, format="JPEG", quality=jpeg_quality)
    else:
        image.save(out, format="PNG")
    return out.getvalue()
