"""The counter camera's steps without a hub: the 申請書ID QR code, live framing guidance, stills kept while offline."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from clerk_agent.link.store import LocalStore
from clerk_agent.photo.camera import SceneCamera, TrackCamera
from clerk_agent.photo.guidance import Advice, Box
from clerk_agent.photo.preview import PHOTO_SIZE, PhotoPreview, centred_crop, frame_of, photo_jpeg
from clerk_agent.photo.qr import form_id_in, read_form_id, scan_form_id
from clerk_agent.photo.scenes import application_form, id_card, qr_code
from clerk_agent.rtc.sources import SyntheticCamera

FORM_ID = "31415926535897932384626"
W, H = 1280, 960
FACE = Box(560, 300, 170, 190)  # centred, about a fifth of the frame's height


def test_form_id_from_a_generated_qr_code_on_a_synthetic_frame() -> None:
    camera = SceneCamera(W, H)
    camera.show(application_form(FORM_ID))
    frame = np.asarray(camera._scene)
    assert frame.shape == (H, W, 3)
    assert read_form_id(frame) == FORM_ID
    # Held at an angle and a little out of focus, as at a real counter.
    turn = cv2.getRotationMatrix2D((W / 2, H / 2), 12, 0.9)
    tilted = cv2.GaussianBlur(cv2.warpAffine(frame, turn, (W, H), borderValue=(96, 96, 96)), (3, 3), 0)
    assert read_form_id(tilted.astype(np.uint8)) == FORM_ID


def test_only_one_23_digit_run_is_a_form_id() -> None:
    assert form_id_in(FORM_ID) == FORM_ID
    assert form_id_in(f"https://example.invalid/apply?id={FORM_ID}") == FORM_ID
    assert form_id_in(FORM_ID + "4") is None  # 24 digits
    assert form_id_in(f"{FORM_ID} {FORM_ID[::-1]}") is None  # two candidates: refuse to guess
    assert read_form_id(qr_code("hello counter")) is None


async def test_scanning_the_camera_finds_the_form_or_gives_up() -> None:
    camera = SceneCamera(W, H)
    assert await scan_form_id(camera, timeout_s=0.3, interval_s=0.05) is None  # the test pattern: no code
    camera.show(application_form(FORM_ID))
    assert await scan_form_id(camera, timeout_s=2.0) == FORM_ID


def _portrait(face_luma: int, background: int, *, texture: bool = True, at: Box = FACE) -> np.ndarray:
    """A synthetic frame with a textured patch where the (given) face box is."""
    rng = np.random.default_rng(11)
    image = np.full((H, W, 3), background, dtype=np.uint8)
    patch = np.full((at.h, at.w, 3), face_luma, dtype=np.int16)
    if texture:
        patch = patch + rng.integers(-40, 40, size=patch.shape)
    image[at.y : at.y + at.h, at.x : at.x + at.w] = np.clip(patch, 0, 255)
    return image


LEFT, SMALL = Box(40, 300, 170, 190), Box(620, 440, 60, 70)


def _one_face(_gray: np.ndarray) -> tuple[Box, ...]:
    return (FACE,)


@pytest.mark.parametrize(
    ("frame", "detector", "expected"),
    [
        (_portrait(140, 150), _one_face, [Advice.ok]),
        (_portrait(35, 30), _one_face, [Advice.too_dark]),
        (_portrait(90, 240), _one_face, [Advice.backlit]),
        (_portrait(140, 150, texture=False), _one_face, [Advice.blurry]),
        (_portrait(140, 150, at=LEFT), lambda _g: (LEFT,), [Advice.off_centre]),
        (_portrait(140, 150, at=SMALL), lambda _g: (SMALL,), [Advice.too_small]),
        (_portrait(140, 150), lambda _g: (FACE, Box(100, 100, 150, 160)), [Advice.multiple_faces]),
        (_portrait(140, 150), lambda _g: (), [Advice.no_face]),
    ],
)
def test_live_framing_advice_on_synthetic_frames(
    frame: np.ndarray, detector: object, expected: list[Advice]
) -> None:
    framing = frame_of(frame.astype(np.uint8), detector)  # type: ignore[arg-type]
    assert list(framing.advice) == expected
    preview = cv2.imdecode(np.frombuffer(framing.preview_jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert preview is not None
    assert preview.shape[1] == 480  # the small preview, not the full frame


def test_the_photo_is_the_35_by_45_crop_around_the_face_at_jlis_size() -> None:
    framing = frame_of(_portrait(140, 150), _one_face)
    assert framing.crop.x <= FACE.x
    assert framing.crop.x + framing.crop.w >= FACE.x + FACE.w
    assert abs(framing.crop.w / framing.crop.h - 35 / 45) < 0.01
    photo = cv2.imdecode(
        np.frombuffer(photo_jpeg(_portrait(140, 150), framing.crop), np.uint8), cv2.IMREAD_COLOR
    )
    assert photo is not None
    assert (photo.shape[1], photo.shape[0]) == PHOTO_SIZE
    # With no single face the crop falls back to the frame's centre.
    crop = centred_crop(W, H)
    assert (crop.y, crop.h, crop.w) == (0, 960, 746)
    assert abs(crop.x + crop.w / 2 - W / 2) <= 1


async def test_preview_refreshes_while_running_and_take_uses_a_full_frame() -> None:
    camera = SceneCamera(W, H)
    preview = PhotoPreview(camera, detector=_one_face, fps=20)
    camera.show(_portrait(140, 150))
    import asyncio

    task = asyncio.create_task(preview.run())
    try:
        async with asyncio.timeout(5):
            while preview.frames < 3:  # noqa: ASYNC110 - the preview exposes a counter, not an event
                await asyncio.sleep(0.02)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert preview.latest is not None
    assert preview.latest.advice == (Advice.ok,)
    data, advice = await preview.take()
    assert data.startswith(b"\xff\xd8")
    assert advice == (Advice.ok,)


async def test_track_camera_reads_full_resolution_bgr_frames() -> None:
    camera = TrackCamera(SyntheticCamera(640, 480, fps=30), (640, 480))
    try:
        frame = await camera.frame()
    finally:
        camera.close()
    assert frame.shape == (480, 640, 3)
    assert frame.dtype == np.uint8


def test_id_card_scenes_differ_front_and_tilted() -> None:
    front, tilted = id_card(), id_card(tilted=True)
    assert front.shape == tilted.shape
    assert float(np.abs(front.astype(int) - tilted.astype(int)).mean()) > 10


async def test_a_still_waiting_for_the_hub_survives_a_restart_and_goes_with_its_write(tmp_path: Path) -> None:
    path = tmp_path / "agent.sqlite3"
    store = LocalStore(path)
    still = b"\xff\xd8" + bytes(range(256)) * 40
    first = await store.add_write("local-1", "POST", "/api/v1/cases/c1/stills", {"kind": "document_front"}, None,
                                  ("image/jpeg", still))  # fmt: skip
    await store.add_write("local-1", "POST", "/api/v1/cases/c1/capture-evidence", {}, None)
    store.close()
    reopened = LocalStore(path)
    pending = await reopened.pending()
    assert [(w.path, w.media_type, w.content) for w in pending] == [
        ("/api/v1/cases/c1/stills", "image/jpeg", still),
        ("/api/v1/cases/c1/capture-evidence", None, None),
    ]
    await reopened.done(first)
    assert [w.path for w in await reopened.pending()] == ["/api/v1/cases/c1/capture-evidence"]
    rows = reopened._db.execute("SELECT count(*) FROM pending_blob").fetchone()
    assert rows == (0,)  # the image is gone with its write
    reopened.close()
