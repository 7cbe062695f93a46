"""Document stills and the application photo: content sniffing, limits, encryption at rest, audited views."""

from __future__ import annotations

import asyncio
import io
import struct
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from PIL import Image, ImageFile
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.evidence.models import EvidenceBlob
from tests.factories import World
from tests.images import png_bomb
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver
from tests.service.db_snapshot import snapshot


def _image(fmt: str = "JPEG", size: tuple[int, int] = (1280, 960)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (40, 120, 200)).save(out, format=fmt)
    return out.getvalue()


async def _live(driver: CaseDriver) -> dict[str, Any]:
    case = await driver.create("card_application")
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    await driver.device(case["id"], "consents", consents=CONSENTS)
    await driver.device(case["id"], "request-verification")
    return await driver.officer(case["id"], "accept")


async def _upload(
    world: World, case_id: str, data: bytes, content_type: str = "image/jpeg", kind: str = "document_front"
) -> httpx.Response:
    return await world.device_a.post(
        f"/api/v1/cases/{case_id}/stills",
        params={"kind": kind},
        content=data,
        headers={"content-type": content_type},
    )


async def test_still_round_trip_encrypted_and_audited(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await _live(driver)
    data = _image()
    added = await _upload(world, case["id"], data)
    assert added.status_code == 201, added.text
    assert added.json()["summary"]["width"] == 1280
    async with sessionmaker() as session:
        blob = (await session.execute(select(EvidenceBlob))).scalar_one()
    assert blob.ciphertext is not None
    assert data[:64] not in blob.ciphertext
    shown = await client.get(
        f"/api/v1/cases/{case['id']}/stills/{added.json()['id']}", headers=world.h("a", Role.officer)
    )
    assert shown.status_code == 200
    assert shown.content == data
    assert shown.headers["content-type"] == "image/jpeg"
    async with sessionmaker() as session:
        views = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "evidence.viewed")
        )
    assert views == 1


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "image/jpeg"),  # a PDF dressed as a JPEG
        (b"<html><script>alert(1)</script></html>", "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 200, "image/jpeg"),  # JPEG magic, no image
        (_image("PNG"), "image/jpeg"),  # the type does not match the bytes
        (_image("JPEG", (100, 80)), "image/jpeg"),  # too small to inspect a document
        (_image("GIF"), "image/gif"),
    ],
)
async def test_only_real_images_pass(
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
    data: bytes,
    content_type: str,
) -> None:
    case = await _live(driver)
    before = await snapshot(sessionmaker)
    response = await _upload(world, case["id"], data, content_type)
    assert response.status_code == 422, response.text
    assert response.json()["code"] in ("not_an_image", "validation_error")
    assert await snapshot(sessionmaker) == before


async def test_truncated_jpeg_is_refused(world: World, driver: CaseDriver) -> None:
    case = await _live(driver)
    data = _image()
    response = await _upload(world, case["id"], data[: len(data) // 2])
    assert response.status_code == 422


async def test_oversized_upload(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case = await _live(driver)
    before = await snapshot(sessionmaker)
    response = await _upload(world, case["id"], b"\xff\xd8" + b"\x00" * (9 * 1024 * 1024))
    assert response.status_code == 413
    assert await snapshot(sessionmaker) == before


async def test_who_may_add_and_see_stills(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    case = await _live(driver)
    added = await _upload(world, case["id"], _image(), kind="application_photo")
    url = f"/api/v1/cases/{case['id']}/stills/{added.json()['id']}"
    assert (await world.device_a.get(url)).status_code == 403
    assert (await client.get(url, headers=world.h("a", Role.clerk))).status_code == 403
    assert (await client.get(url, headers=world.admin_headers)).status_code == 403
    assert (await client.get(url, headers=world.h("b", Role.officer))).status_code == 404
    assert (
        await world.device_b.post(
            f"/api/v1/cases/{case['id']}/stills",
            params={"kind": "document_front"},
            content=_image(),
            headers={"content-type": "image/jpeg"},
        )
    ).status_code == 404
    officer_upload = await client.post(
        f"/api/v1/cases/{case['id']}/stills",
        params={"kind": "document_front"},
        content=_image(),
        headers={**world.h("a", Role.officer), "content-type": "image/jpeg"},
    )
    assert officer_upload.status_code == 403  # the officer cannot add (or alter) evidence


async def test_a_resent_still_with_its_key_is_stored_once(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case = await _live(driver)
    data = _image()
    headers = {"content-type": "image/jpeg", "Idempotency-Key": "agent-still-0001"}
    url = f"/api/v1/cases/{case['id']}/stills"
    first = await world.device_a.post(url, params={"kind": "document_front"}, content=data, headers=headers)
    again = await world.device_a.post(url, params={"kind": "document_front"}, content=data, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    async with sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(EvidenceBlob))).scalar_one() == 1
    # The same key with another image is a different request: refused, nothing stored.
    other = await world.device_a.post(
        url, params={"kind": "document_front"}, content=_image(size=(640, 480)), headers=headers
    )
    assert other.status_code == 422, other.text
    async with sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(EvidenceBlob))).scalar_one() == 1


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose SOF0 header claims width × height."""
    data = bytearray(_image())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


class LoadSpy:
    """Wraps Pillow's pixel decoder (ImageFile.load): who decoded, on which thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, before: Callable[[], None] | None = None) -> None:
        self.threads: list[int] = []
        original = ImageFile.ImageFile.load

        def load(image: ImageFile.ImageFile) -> Any:
            self.threads.append(threading.get_ident())
            if before is not None:
                before()
            return original(image)

        monkeypatch.setattr(ImageFile.ImageFile, "load", load)


@pytest.mark.parametrize(
    "data",
    [png_bomb(12_000, 12_000), jpeg_claiming(7_000, 7_000)],
    ids=["png-12000x12000", "jpeg-sof-7000x7000"],
)
async def test_a_decompression_bomb_is_refused_from_its_header(
    monkeypatch: pytest.MonkeyPatch,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
    data: bytes,
) -> None:
    """Old code: every pixel was decoded on the event loop first (the PNG: hundreds of MB), then refused."""
    assert len(data) < 100_000
    case = await _live(driver)
    before = await snapshot(sessionmaker)
    spy = LoadSpy(monkeypatch)
    response = await _upload(
        world, case["id"], data, "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "image_too_large"
    assert spy.threads == [], "the decoder ran for an image refused by its header"
    assert await snapshot(sessionmaker) == before


async def test_stills_are_decoded_off_the_event_loop_while_health_answers(
    monkeypatch: pytest.MonkeyPatch, client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    """Old code: the decode ran on the loop, so /healthz could not answer until it ended (the flag stays False)."""
    case = await _live(driver)
    entered, release = threading.Event(), threading.Event()
    released_while_decoding: list[bool] = []

    def hold() -> None:
        entered.set()
        # Held until the test has had /healthz answered; the timeout only keeps a broken build from hanging.
        released_while_decoding.append(release.wait(timeout=20))

    spy = LoadSpy(monkeypatch, before=hold)
    upload = asyncio.create_task(_upload(world, case["id"], _image()))
    assert await asyncio.to_thread(entered.wait, 20)
    health = await client.get("/healthz")
    assert health.status_code == 200
    release.set()
    added = await upload
    assert added.status_code == 201, added.text
    assert released_while_decoding == [True]
    assert threading.get_ident() not in spy.threads, "an image was decoded on the event loop's thread"
