"""Live framing guidance for the application photo (申請用顔写真): a small preview with the advice, a few times a second.

The preview is what the clerk's screen polls (a downscaled JPEG with the face box and the 35:45 crop drawn on
it); the photo itself is cropped from a full-resolution frame and scaled to J-LIS's accepted size.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from clerk_agent.photo.camera import CounterCamera
from clerk_agent.photo.guidance import Advice, Box, advise, crop_for, detect_faces, measure

Image = NDArray[np.uint8]
Detector = Callable[[NDArray[np.uint8]], tuple[Box, ...]]

PREVIEW_WIDTH: Final = 480
# J-LIS accepts JPEG photos of 480–6000 px per side for online applications; 600×771 keeps the 35:45 shape.
PHOTO_SIZE: Final = (600, 771)
JPEG_QUALITY: Final = 92


@dataclass(frozen=True)
class Framing:
    """One analysed frame: the preview JPEG, the advice, and where the photo would be cropped."""

    preview_jpeg: bytes
    advice: tuple[Advice, ...]
    face: Box | None
    crop: Box
    at: float = field(default_factory=time.monotonic)


def centred_crop(width: int, height: int) -> Box:
    """The largest 35:45 crop in the frame's centre (used when no single face is found)."""
    crop_h = min(height, int(width * 45 / 35))
    crop_w = int(crop_h * 35 / 45)
    return Box((width - crop_w) // 2, (height - crop_h) // 2, crop_w, crop_h)


def frame_of(image: Image, detector: Detector = detect_faces) -> Framing:
    """Measure, advise and draw the preview of one BGR frame (blocking: worker thread)."""
    import cv2

    gray: Image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)  # type: ignore[assignment]
    faces = detector(gray)
    advice = tuple(advise(measure(image, faces)))
    height, width = gray.shape[:2]
    face = faces[0] if len(faces) == 1 else None
    crop = crop_for(face, width, height) if face else centred_crop(width, height)
    scale = PREVIEW_WIDTH / width
    small = cv2.resize(image, (PREVIEW_WIDTH, int(height * scale)), interpolation=cv2.INTER_AREA)
    good = advice == (Advice.ok,)
    colour = (54, 122, 27) if good else (32, 0, 176)  # the UI's --ok / --warn, in BGR
    cv2.rectangle(
        small,
        (int(crop.x * scale), int(crop.y * scale)),
        (int((crop.x + crop.w) * scale), int((crop.y + crop.h) * scale)),
        colour,
        2,
    )
    for box in faces:
        cv2.rectangle(
            small,
            (int(box.x * scale), int(box.y * scale)),
            (int((box.x + box.w) * scale), int((box.y + box.h) * scale)),
            (200, 200, 200),
            1,
        )
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
    if not ok:
        raise ValueError("preview could not be encoded")
    return Framing(encoded.tobytes(), advice, face, crop)


def photo_jpeg(image: Image, crop: Box) -> bytes:
    """The application photo: `crop` of a full-resolution frame, scaled to PHOTO_SIZE, as JPEG (worker thread)."""
    import cv2

    part = image[crop.y : crop.y + crop.h, crop.x : crop.x + crop.w]
    resized = cv2.resize(
        part, PHOTO_SIZE, interpolation=cv2.INTER_AREA if crop.w >= PHOTO_SIZE[0] else cv2.INTER_CUBIC
    )
    ok, encoded = cv2.imencode(".jpg", resized, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("photo could not be encoded")
    return encoded.tobytes()


class PhotoPreview:
    """Analyses the camera a few times a second while the photo step is open; `latest` is what the UI shows."""

    def __init__(self, camera: CounterCamera, *, detector: Detector = detect_faces, fps: float = 4.0) -> None:
        self.camera = camera
        self.detector = detector
        self.interval_s = 1 / fps
        self.latest: Framing | None = None
        self.frames = 0

    async def run(self) -> None:
        """Refresh `latest` until cancelled."""
        while True:
            started = time.monotonic()
            image = await self.camera.frame()
            self.latest = await asyncio.to_thread(frame_of, image, self.detector)
            self.frames += 1
            await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))

    async def take(self) -> tuple[bytes, tuple[Advice, ...]]:
        """A fresh full-resolution frame, analysed and cropped: (photo JPEG, advice at the moment of taking)."""
        image = await self.camera.frame()
        framing = await asyncio.to_thread(frame_of, image, self.detector)
        self.latest = framing
        return await asyncio.to_thread(photo_jpeg, image, framing.crop), framing.advice
