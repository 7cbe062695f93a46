"""Advice for the application photo (申請用顔写真, 縦45mm×横35mm, head 34±2 mm, facing front, centred).

`advise` is the pure rule set over measurements; `analyse` measures a camera frame with OpenCV's bundled Haar
cascade (offline, no model download). The cascade finds the face from eyebrows to mouth, about 60 % of the head
height, which is what `HEAD_PER_FACE` corrects for when the crop is computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
from numpy.typing import NDArray

# The J-LIS rule: the head (crown to chin) is 34±2 mm of a 45 mm tall photo.
HEAD_TO_PHOTO: Final = 34 / 45
PHOTO_ASPECT: Final = 35 / 45
HEAD_PER_FACE: Final = 1 / 0.6  # a Haar face box is about 60 % of the head's height
MIN_FACE_TO_FRAME: Final = 0.18  # below this the crop is upscaled past what the J-LIS 600 dpi spec tolerates
MAX_FACE_TO_FRAME: Final = 0.6  # above this the crown or chin is cut off
CENTRE_TOLERANCE: Final = 0.1  # of the frame width/height
DARK_LUMA: Final = 70.0
BACKLIGHT_RATIO: Final = 0.6  # face mean / background mean below this reads as backlit
BLUR_VARIANCE: Final = 60.0  # variance of the Laplacian over the face


class Advice(StrEnum):
    """One piece of advice; `ok` alone means the frame is fine."""

    ok = "ok"
    no_face = "no_face"
    multiple_faces = "multiple_faces"
    off_centre = "off_centre"
    too_small = "too_small"
    too_close = "too_close"
    too_dark = "too_dark"
    backlit = "backlit"
    blurry = "blurry"


ADVICE_TEXT: Final[dict[Advice, tuple[str, str]]] = {
    Advice.ok: ("このまま撮影できます。", "Ready to take the photo."),
    Advice.no_face: (
        "お顔が見つかりません。カメラの正面を向いてください。",
        "No face found; face the camera.",
    ),
    Advice.multiple_faces: (
        "お一人だけが写るようにしてください。",
        "Only the applicant may be in the picture.",
    ),
    Advice.off_centre: ("お顔を画面の中央に合わせてください。", "Centre the face in the frame."),
    Advice.too_small: ("もう少しカメラに近づいてください。", "Move closer to the camera."),
    Advice.too_close: ("少しカメラから離れてください。", "Move back a little."),
    Advice.too_dark: ("暗すぎます。照明を明るくしてください。", "Too dark; add light."),
    Advice.backlit: ("逆光です。背後の窓や照明を避けてください。", "Backlit; avoid a window or lamp behind."),
    Advice.blurry: ("ぶれています。動かずにお待ちください。", "Blurred; hold still."),
}


@dataclass(frozen=True)
class Box:
    """A detected face, in pixels."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Measurements:
    """What `advise` needs from a frame."""

    width: int
    height: int
    faces: tuple[Box, ...]
    frame_luma: float
    face_luma: float
    background_luma: float
    face_sharpness: float


def advise(m: Measurements) -> list[Advice]:
    """Every rule the frame breaks, most important first; [ok] when none."""
    if not m.faces:
        return [Advice.no_face]
    if len(m.faces) > 1:
        return [Advice.multiple_faces]
    face = m.faces[0]
    advice: list[Advice] = []
    ratio = face.h / m.height
    if ratio < MIN_FACE_TO_FRAME:
        advice.append(Advice.too_small)
    elif ratio > MAX_FACE_TO_FRAME:
        advice.append(Advice.too_close)
    cx, cy = (face.x + face.w / 2) / m.width, (face.y + face.h / 2) / m.height
    # The eyes sit a little above the photo's middle, so the face box centre may be up to a tolerance higher.
    if abs(cx - 0.5) > CENTRE_TOLERANCE or not (0.5 - 2 * CENTRE_TOLERANCE <= cy <= 0.5 + CENTRE_TOLERANCE):
        advice.append(Advice.off_centre)
    if m.face_luma < DARK_LUMA and m.background_luma < DARK_LUMA * 1.5:
        advice.append(Advice.too_dark)
    elif m.background_luma > 0 and m.face_luma / m.background_luma < BACKLIGHT_RATIO:
        advice.append(Advice.backlit)
    if m.face_sharpness < BLUR_VARIANCE:
        advice.append(Advice.blurry)
    return advice or [Advice.ok]


def crop_for(face: Box, width: int, height: int) -> Box:
    """The 35:45 crop with the head at 34/45 of its height, clamped to the frame."""
    head = face.h * HEAD_PER_FACE
    crop_h = min(head / HEAD_TO_PHOTO, height)
    crop_w = min(crop_h * PHOTO_ASPECT, width)
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    x = int(max(0, min(cx - crop_w / 2, width - crop_w)))
    y = int(max(0, min(cy - crop_h / 2, height - crop_h)))
    return Box(x, y, int(crop_w), int(crop_h))


def detect_faces(gray: NDArray[np.uint8]) -> tuple[Box, ...]:
    """Faces found by the bundled Haar cascade (blocking: call it in a worker thread)."""
    import cv2

    # The cascade ships inside opencv-python-headless 4.x (cv2/data); 5.x dropped it, hence the pin.
    cascades: str = cv2.data.haarcascades  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(cascades + "haarcascade_frontalface_default.xml")
    found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(40, 40))
    return tuple(Box(int(x), int(y), int(w), int(h)) for x, y, w, h in found)


def measure(image: NDArray[np.uint8], faces: tuple[Box, ...] | None = None) -> Measurements:
    """Measure a BGR or grey frame; detects faces unless they are given."""
    import cv2

    gray: NDArray[np.uint8] = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image  # type: ignore[assignment]
    height, width = gray.shape[:2]
    found = detect_faces(gray) if faces is None else faces
    frame_luma = float(gray.mean())
    face_luma, background_luma, sharpness = frame_luma, frame_luma, 0.0
    if found:
        face = found[0]
        region = gray[face.y : face.y + face.h, face.x : face.x + face.w]
        face_luma = float(region.mean())
        mask = np.ones_like(gray, dtype=bool)
        mask[face.y : face.y + face.h, face.x : face.x + face.w] = False
        background_luma = float(gray[mask].mean()) if mask.any() else frame_luma
        sharpness = float(cv2.Laplacian(region, cv2.CV_64F).var())
    return Measurements(width, height, found, frame_luma, face_luma, background_luma, sharpness)
