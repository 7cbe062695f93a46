"""The officer's camera at the counter: the latest frame as JPEG while it comes, nothing once it stops."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from av import AudioFrame, VideoFrame

from clerk_agent.flows.call import CallStatus
from clerk_agent.rtc import officer_video
from clerk_agent.rtc.officer_video import OfficerVideo
from clerk_agent.ui.officer import officer_view


def _frame(width: int, height: int, value: int) -> VideoFrame:
    return VideoFrame.from_ndarray(np.full((height, width, 3), value, dtype=np.uint8), format="bgr24")


def test_the_latest_frame_comes_as_jpeg_no_wider_than_640() -> None:
    video = OfficerVideo()
    assert video.jpeg() is None  # nothing yet
    video.deliver(AudioFrame(format="s16", layout="mono", samples=960))  # not a picture: ignored
    assert video.frames == 0
    video.deliver(_frame(1280, 720, 40))
    video.deliver(_frame(1280, 720, 200))
    data = video.jpeg()
    assert data is not None
    picture = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None
    assert picture.shape[:2] == (360, 640)
    assert abs(int(picture.mean()) - 200) < 8  # the latest frame, not the first
    assert video.jpeg() is data  # encoded once per frame


def test_a_stopped_camera_shows_no_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    video = OfficerVideo()
    video.deliver(_frame(640, 480, 90))
    assert video.live
    clock = time.monotonic() + officer_video.STALE_S + 1
    monkeypatch.setattr(time, "monotonic", lambda: clock)
    assert not video.live
    assert video.jpeg() is None


def test_the_applicant_sees_the_officer_only_during_the_call() -> None:
    status = CallStatus(phase="waiting_officer")
    status.officer = {
        "display_name": "試験 officer",
        "municipality_name": "甲市",
        "municipality_code": "990019",
    }
    assert officer_view(status) == {"present": False, "name": None, "municipality": None, "video": False}
    status.phase = "connected"
    assert officer_view(status) == {
        "present": True,
        "name": "試験 officer",
        "municipality": "甲市",
        "video": False,
    }
    status.officer_video.deliver(_frame(640, 480, 90))
    assert officer_view(status)["video"] is True
    status.phase = "ended"
    assert officer_view(status)["present"] is False
