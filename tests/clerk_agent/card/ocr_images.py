"""Stills for the OCR tests: the synthetic camera's invented documents (clerk_agent/photo/scenes.py) on a counter
top, optionally blurred and noisy as a real camera's picture is, as the camera's BGR frame or as JPEG bytes."""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from clerk_agent.photo.scenes import passport_page, residence_card_face

Bgr = NDArray[np.uint8]
FRAME = (1280, 960)  # the synthetic camera's size


def on_counter(picture: Bgr, *, noise: float = 0.0, seed: int = 7) -> Bgr:
    """`picture` in the middle of a grey counter top; with `noise`, a slight blur and Gaussian sensor noise."""
    width, height = FRAME
    frame = np.full((height, width, 3), 150, dtype=np.uint8)
    top, left = (height - picture.shape[0]) // 2, (width - picture.shape[1]) // 2
    frame[top : top + picture.shape[0], left : left + picture.shape[1]] = picture
    if not noise:
        return frame
    grey = Image.fromarray(frame[:, :, 0]).filter(ImageFilter.GaussianBlur(0.8))
    rng = np.random.default_rng(seed)
    noisy = np.clip(np.asarray(grey, dtype=np.float64) + rng.normal(0, noise, (height, width)), 0, 255)
    return np.ascontiguousarray(np.repeat(noisy.astype(np.uint8)[:, :, None], 3, axis=2))


def page_still(mrz: str, *, angle: float = 0.0, noise: float = 0.0) -> Bgr:
    """A passport data page held up to the counter camera."""
    return on_counter(passport_page(mrz, angle=angle), noise=noise)


def card_still(number: str, *, noise: float = 0.0) -> Bgr:
    """A residence card held up to the counter camera."""
    return on_counter(residence_card_face(number), noise=noise)


def jpeg(frame: Bgr, quality: int = 85) -> bytes:
    """The frame as a camera's JPEG."""
    out = io.BytesIO()
    Image.fromarray(frame[:, :, ::-1]).save(out, format="JPEG", quality=quality)
    return out.getvalue()
