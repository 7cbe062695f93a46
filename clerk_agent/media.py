"""The counter's camera, microphone and speaker, opened once from the agent's settings.

One camera feeds everything: the guided steps read full-resolution frames from it (the 申請書ID QR code,
document stills, the application photo) and every call gets its own subscription, rescaled for the call. The
synthetic camera (demo, tests) shows the officer whatever is held up to it, as a real one would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import av

from clerk_agent.config import AgentSettings, Camera
from clerk_agent.photo.camera import CounterCamera, SceneCamera, SceneTrack, TrackCamera
from clerk_agent.rtc.relay import CameraFeed
from clerk_agent.rtc.sinks import FrameSink, SpeakerSink
from clerk_agent.rtc.sources import (
    DeviceSettings,
    MediaSource,
    ToneMicrophone,
    capture_inputs,
    open_devices,
)

CALL_FPS = 15  # the synthetic call picture; a device call runs at the camera's rate


class MediaSettingsError(ValueError):
    """The camera settings cannot work (e.g. camera=device without a device name)."""


@dataclass
class CounterMedia:
    """What the counter flow needs from the devices: the stills camera, a source per call, the speaker."""

    camera: CounterCamera
    call_source: Callable[[], MediaSource]
    speaker: FrameSink | None = None
    _feeds: list[CameraFeed] = field(default_factory=list)

    async def close(self) -> None:
        """Release the camera, the relays and the devices behind them."""
        self.camera.close()
        for feed in self._feeds:
            await feed.close()
        self._feeds.clear()
        if isinstance(self.speaker, SpeakerSink):
            await asyncio.to_thread(self.speaker.close)


def synthetic_media(camera: SceneCamera | None = None, speaker: FrameSink | None = None) -> CounterMedia:
    """The demo's counter: a SceneCamera for the steps, its picture and a tone in every call."""
    scene = camera or SceneCamera()
    return CounterMedia(
        camera=scene,
        call_source=lambda: MediaSource(
            video=SceneTrack(scene, 640, 480, fps=CALL_FPS), audio=ToneMicrophone(), video_size=(640, 480)
        ),
        speaker=speaker,
    )


async def device_media(source: MediaSource, speaker: FrameSink | None = None) -> CounterMedia:
    """Devices opened once (`open_devices`): the steps and every call read them through relays."""
    if source.video is None:
        source.stop()
        raise MediaSettingsError("the camera device opened but gives no video")
    video = CameraFeed(source.video, call_size=None)
    audio = CameraFeed(source.audio, call_size=None) if source.audio is not None else None
    size = source.video_size
    if size is None:
        # The device chose its own size: learn it from the first frame.
        first = video.subscribe()
        try:
            frame = await first.recv()
            size = (int(getattr(frame, "width", 0)), int(getattr(frame, "height", 0)))
        finally:
            first.stop()
    feeds = [video] + ([audio] if audio is not None else [])

    def call_source() -> MediaSource:
        # Subscriptions: when a call ends and stops them, the devices stay open for the next step.
        return MediaSource(
            video=video.subscribe(), audio=audio.subscribe() if audio is not None else None, video_size=size
        )

    return CounterMedia(
        camera=TrackCamera(video.subscribe(), size), call_source=call_source, speaker=speaker, _feeds=feeds
    )


def speaker_of(settings: AgentSettings) -> FrameSink | None:
    """The configured speaker, or None (the officer's voice is counted, not played)."""
    if not settings.speaker_device:
        return None
    return SpeakerSink(settings.speaker_device, settings.speaker_format)


async def open_media(settings: AgentSettings) -> CounterMedia:
    """The counter's media as `settings` say; MediaSettingsError when they cannot work."""
    if settings.camera is Camera.synthetic:
        from clerk_agent.photo.faces import look_of

        # The invented person of the virtual card (the same drawing as its chip photo), or someone else.
        camera = SceneCamera(cardholder=look_of(settings.virtual_person))
        camera.seat(settings.camera_person)
        return synthetic_media(camera, speaker=speaker_of(settings))
    if not settings.camera_device:
        raise MediaSettingsError("CLERK_CAMERA=device needs CLERK_CAMERA_DEVICE (e.g. /dev/video0)")
    devices = DeviceSettings(
        camera=settings.camera_device,
        microphone=settings.microphone_device or None,
        video_size=settings.camera_size,
        framerate=settings.camera_fps,
    )
    try:
        source = await open_devices(capture_inputs(devices))
    except (OSError, ValueError, av.FFmpegError) as exc:
        raise MediaSettingsError(f"the camera {settings.camera_device!r} could not be opened: {exc}") from exc
    return await device_media(source, speaker_of(settings))
