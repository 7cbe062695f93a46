"""Document stills come from the camera at its full resolution, not from the call's scaled video."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from clerk_agent.rtc.errors import CaptureError
from clerk_agent.rtc.pattern import read_frame_code
from clerk_agent.rtc.relay import CameraFeed
from clerk_agent.rtc.sources import SyntheticCamera
from clerk_agent.rtc.stills import capture_still
from tests.clerk_agent.rtc._call import CAMERA_SIZE, Call


async def test_still_during_a_call_has_the_cameras_full_resolution(call: Call) -> None:
    await call.officer.wait_first_frame("video")
    png = await capture_still(call.feed, image_format="png")
    jpeg = await capture_still(call.feed, image_format="jpeg")
    for still, pil_format in ((png, "PNG"), (jpeg, "JPEG")):
        image = Image.open(io.BytesIO(still.data))
        assert image.format == pil_format
        assert image.size == CAMERA_SIZE == (still.width, still.height)
        assert still.media_type == f"image/{pil_format.lower()}"
    # The call itself carries 640×480: the still did not come from a video frame.
    assert {(f.width, f.height) for f in call.officer_saw.video} == {(640, 480)}
    # Lossless PNG keeps the burnt-in frame code readable: a real, recent camera frame.
    luma = np.asarray(Image.open(io.BytesIO(png.data)).convert("L"))
    assert read_frame_code(luma) > 0
    assert png.captured_at <= jpeg.captured_at


async def test_still_without_a_running_call_and_from_a_stopped_camera() -> None:
    camera = SyntheticCamera(640, 480, fps=30)
    feed = CameraFeed(camera, call_size=None)
    try:
        still = await capture_still(feed, image_format="png")
        assert (still.width, still.height) == (640, 480)
        camera.stop()
        with pytest.raises(CaptureError, match="stopped"):
            await capture_still(feed, timeout_s=0.3)
    finally:
        await feed.close()
