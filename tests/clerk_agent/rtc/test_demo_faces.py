"""The demo's invented person: the synthetic camera shows the same face as the virtual card's chip photo.

So that officers can rehearse comparing the face on camera with the chip photo (clerk_agent/photo/faces.py), the
chip photo and the camera picture of one person must look alike, and the "other" person must plainly not.
The measure is deliberately simple: mean absolute difference of greyscale pictures scaled down to 24×30.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from av import VideoFrame
from numpy.typing import NDArray
from PIL import Image

from clerk_agent.card.virtual.cardface import face_photo_jp2
from clerk_agent.config import AgentSettings
from clerk_agent.media import open_media
from clerk_agent.photo.camera import SceneCamera, SceneTrack
from clerk_agent.photo.faces import look_of, portrait_box

PERSON = "yamada_hanako"
SMALL = (24, 30)


def small(image: Image.Image) -> NDArray[np.float64]:
    return np.asarray(image.convert("L").resize(SMALL, Image.Resampling.BOX), dtype=np.float64)


def chip_photo() -> NDArray[np.float64]:
    with Image.open(io.BytesIO(face_photo_jp2(PERSON))) as photo:
        assert (photo.format, photo.size) == ("JPEG2000", (120, 150))
        return small(photo)


async def call_frame(camera: SceneCamera, skip: int = 0) -> NDArray[np.float64]:
    """Where the person sits in the call's picture (frame `skip` of a fresh track), as the officer sees it."""
    track = SceneTrack(camera, 640, 480, fps=30)
    try:
        for _ in range(skip):
            await track.recv()
        frame = await track.recv()
        assert isinstance(frame, VideoFrame)
        image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
        return small(image.crop(portrait_box(640, 480)))
    finally:
        track.stop()


def difference(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(np.abs(a - b).mean())


async def test_the_camera_shows_the_chip_photos_person_and_someone_else_on_demand() -> None:
    camera = SceneCamera(cardholder=look_of(PERSON))
    camera.seat("cardholder")
    chip = chip_photo()
    same = difference(chip, await call_frame(camera))
    camera.seat("other")
    assert camera.seated == "other"
    other = difference(chip, await call_frame(camera))
    assert same < 12, same
    assert other > 25, other
    assert other > 3 * same


async def test_the_person_on_camera_moves_a_little_and_stays_the_same_person() -> None:
    camera = SceneCamera(cardholder=look_of(PERSON), person=look_of(PERSON))
    first = await call_frame(camera)
    later = await call_frame(camera, skip=40)  # 1.3 s on: the head has swayed
    assert difference(first, later) > 0.5  # alive, not a still picture
    assert difference(chip_photo(), later) < 12


async def test_the_stills_see_the_person_and_nobody_brings_back_the_pattern() -> None:
    camera = SceneCamera(640, 480, cardholder=look_of(PERSON))
    camera.seat("cardholder")
    face = await camera.frame()
    assert face.shape == (480, 640, 3)
    camera.seat("nobody")
    assert camera.seated == "nobody"
    bars = await camera.frame()
    assert float(bars.std()) > float(face.std())  # the saturated test bars are back


@pytest.mark.parametrize(("who", "seated"), [(None, "cardholder"), ("other", "other"), ("nobody", "nobody")])
async def test_the_agent_seats_the_person_the_settings_ask_for(
    tmp_path: Path, who: str | None, seated: str
) -> None:
    values = {"camera_person": who} if who else {}
    media = await open_media(AgentSettings(data_dir=tmp_path, **values))  # type: ignore[arg-type]
    try:
        assert isinstance(media.camera, SceneCamera)
        assert media.camera.seated == seated
    finally:
        await media.close()
