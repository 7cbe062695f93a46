"""The counter's media from settings: one camera for the steps and every call, the speaker, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from av import VideoFrame

from clerk_agent.config import AgentSettings, Camera
from clerk_agent.media import MediaSettingsError, device_media, open_media, speaker_of, synthetic_media
from clerk_agent.photo.camera import SceneCamera, SceneTrack, TrackCamera
from clerk_agent.rtc.sinks import SpeakerSink
from clerk_agent.rtc.sources import CaptureInput, open_devices

LAVFI_CAMERA = CaptureInput("testsrc=size=320x240:rate=30", "lavfi", {"video_size": "320x240"})


def settings(tmp_path: Path, **values: object) -> AgentSettings:
    return AgentSettings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


async def test_the_call_shows_the_scene_held_up_and_otherwise_the_pattern() -> None:
    scene = SceneCamera(1280, 960)
    track = SceneTrack(scene, 640, 480, fps=30)
    try:
        first = await track.recv()
        assert isinstance(first, VideoFrame)
        assert (first.width, first.height) == (640, 480)
        assert float(first.to_ndarray(format="bgr24").std()) > 30  # the moving pattern
        scene.show(np.full((960, 1280, 3), (10, 200, 90), dtype=np.uint8))
        held = await track.recv()
        assert isinstance(held, VideoFrame)
        assert held.pts is not None
        assert first.pts is not None
        assert held.pts > first.pts
        centre = held.to_ndarray(format="bgr24")[200:280, 280:360].reshape(-1, 3).mean(axis=0)
        assert np.all(np.abs(centre - np.array((10, 200, 90))) < 6)
    finally:
        track.stop()


async def test_synthetic_media_gives_every_call_its_own_source_on_one_scene() -> None:
    scene = SceneCamera()
    media = synthetic_media(scene)
    one, two = media.call_source(), media.call_source()
    assert media.camera is scene
    assert one.video is not two.video
    assert one.audio is not None
    assert one.video_size == (640, 480)
    one.stop()
    two.stop()
    await media.close()


async def test_one_device_feeds_the_stills_and_each_call_and_outlives_a_call() -> None:
    media = await device_media(await open_devices([LAVFI_CAMERA]))
    try:
        assert isinstance(media.camera, TrackCamera)
        assert media.camera.size == (320, 240)
        still = await media.camera.frame()
        assert still.shape == (240, 320, 3)
        call = media.call_source()
        assert call.audio is None  # no microphone configured
        assert call.video is not None
        frame = await call.video.recv()
        assert isinstance(frame, VideoFrame)
        call.stop()  # the call ended: the camera stays open for the next still and the next call
        assert (await media.camera.frame()).shape == (240, 320, 3)
        again = media.call_source()
        assert again.video is not None
        assert isinstance(await again.video.recv(), VideoFrame)
        again.stop()
    finally:
        await media.close()


async def test_device_settings_that_cannot_work_say_why(tmp_path: Path) -> None:
    with pytest.raises(MediaSettingsError, match="CLERK_CAMERA_DEVICE"):
        await open_media(settings(tmp_path, camera=Camera.device))
    missing = str(tmp_path / "video99")
    with pytest.raises(MediaSettingsError, match="could not be opened"):
        await open_media(settings(tmp_path, camera=Camera.device, camera_device=missing))
    media = await open_media(settings(tmp_path))
    assert isinstance(media.camera, SceneCamera)
    await media.close()


def test_the_speaker_is_played_only_when_configured(tmp_path: Path) -> None:
    assert speaker_of(settings(tmp_path)) is None
    speaker = speaker_of(settings(tmp_path, speaker_device="default"))
    assert isinstance(speaker, SpeakerSink)
    assert (speaker.device, speaker.output_format) == ("default", "alsa")
    speaker.close()  # never opened: nothing to flush
