"""OCR of the access data at the counter (clerk_agent/card/idchips/ocr.py), with the real Tesseract on stills of
invented documents (tests/clerk_agent/card/ocr_images.py): what is read, what is refused, and what is never decoded."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable

import httpx
import numpy as np
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request

from clerk_agent.card.idchips.ocr import (
    MAX_ENCODED_BYTES,
    OcrError,
    OcrFailure,
    OcrKind,
    card_number_fields,
    read_still,
    read_still_async,
    validate_td3_line2,
)
from clerk_agent.card.virtual.idchips.jp_people import RESIDENCE_HOLDERS
from clerk_agent.card.virtual.idchips.lds import HOLDERS, PassportHolder
from clerk_agent.photo.camera import SceneCamera
from clerk_agent.photo.scenes import passport_page
from clerk_agent.ui.ocr_routes import ocr_routes
from service.wire.mrz import check_digit
from tests.clerk_agent.card.ocr_images import FRAME, card_still, jpeg, page_still

HANAKO = HOLDERS["yamada_hanako"]
TARO = HOLDERS["sato_taro"]
LAN = RESIDENCE_HOLDERS["nguyen_lan"]


def bac_fields(holder: PassportHolder) -> dict[str, str]:
    return {"document_number": holder.document_number, "birth": holder.birth, "expiry": holder.expiry_yymmdd}


def test_the_mrz_of_a_straight_page_gives_the_bac_fields_in_wipeable_buffers() -> None:
    fields = read_still(page_still(HANAKO.mrz()), OcrKind.passport)
    assert fields.text() == bac_fields(HANAKO)
    assert HANAKO.document_number not in repr(fields)
    buffers = list(fields.values.values())
    fields.wipe()
    assert all(not any(buffer) for buffer in buffers)


@pytest.mark.parametrize(("angle", "noise"), [(2.0, 10.0), (-3.0, 12.0)])
def test_a_turned_noisy_page_as_jpeg_is_straightened_and_read(angle: float, noise: float) -> None:
    still = jpeg(page_still(TARO.mrz(), angle=angle, noise=noise))
    assert read_still(still, OcrKind.passport).text() == bac_fields(TARO)


def _with_line2(mrz: str, line2: str) -> str:
    return mrz[:44] + line2


def test_a_wrong_check_digit_is_refused_not_corrected() -> None:
    line2 = HANAKO.mrz()[44:]
    wrong = str((int(line2[9]) + 3) % 10)
    # The document number's check digit misprinted; the composite once left as it was, once made to agree.
    as_printed = line2[:9] + wrong + line2[10:]
    agreeing = as_printed[:43] + check_digit(as_printed[0:10] + as_printed[13:20] + as_printed[21:43])
    for bad in (as_printed, agreeing):
        assert validate_td3_line2(bad) is None
        with pytest.raises(OcrError) as refused:
            read_still(page_still(_with_line2(HANAKO.mrz(), bad)), OcrKind.passport)
        assert refused.value.failure is OcrFailure.check_digit


@pytest.mark.parametrize("holder", [HANAKO, TARO], ids=lambda h: h.key)
def test_no_wrong_check_digit_is_ever_swapped_into_a_number(holder: PassportHolder) -> None:
    line2 = holder.mrz()[44:]
    for error in range(1, 10):
        wrong = line2[:9] + str((int(line2[9]) + error) % 10) + line2[10:]
        agreeing = wrong[:43] + check_digit(wrong[0:10] + wrong[13:20] + wrong[21:43])
        assert validate_td3_line2(wrong) is None, error
        assert validate_td3_line2(agreeing) is None, error


def test_confusions_are_fixed_by_field_type_and_check_digits() -> None:
    line2 = TARO.mrz()[44:]
    # A date holds digits (I→1), a nationality letters (3→J); the number's Z read as 7 is put back only
    # because that single change makes its check digit and the composite one hold.
    misread = "7" + line2[1:10] + "JPN" + line2[13:16].replace("1", "I") + line2[16:]
    assert validate_td3_line2(misread) == line2
    assert validate_td3_line2(line2[:10] + "3" + line2[11:]) == line2  # JPN read with a 3
    # Fillers miscounted in the optional data: the line is made good at 44 and the composite decides.
    assert validate_td3_line2(line2[:30] + line2[32:]) == line2


def test_a_blank_still_has_no_mrz_and_no_card_number() -> None:
    blank = np.full((FRAME[1], FRAME[0], 3), 150, dtype=np.uint8)
    for kind in OcrKind:
        with pytest.raises(OcrError) as nothing:
            read_still(blank, kind)
        assert nothing.value.failure is OcrFailure.not_found


def test_an_oversized_still_is_refused_before_it_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    wide = io.BytesIO()
    Image.new("L", (9000, 16), 255).save(
        wide, format="JPEG"
    )  # small on the wire, too wide to be a camera still

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    with pytest.raises(OcrError) as refused:
        read_still(wide.getvalue(), OcrKind.passport)
    assert refused.value.failure is OcrFailure.too_large
    monkeypatch.setattr(Image, "open", no_decoding)
    with pytest.raises(OcrError) as refused:
        read_still(b"\xff\xd8" + bytes(MAX_ENCODED_BYTES), OcrKind.passport)
    assert refused.value.failure is OcrFailure.too_large
    with pytest.raises(OcrError) as refused:
        read_still(np.zeros((9000, 10, 3), dtype=np.uint8), OcrKind.residence_card)
    assert refused.value.failure is OcrFailure.too_large


def test_not_a_picture_is_unreadable() -> None:
    with pytest.raises(OcrError) as refused:
        read_still(b"GIF89a" + bytes(64), OcrKind.passport)
    assert refused.value.failure is OcrFailure.unreadable


@pytest.mark.parametrize("noise", [0.0, 10.0])
def test_the_residence_card_number_is_read_from_the_top_right(noise: float) -> None:
    fields = read_still(jpeg(card_still(LAN.card_number, noise=noise)), OcrKind.residence_card)
    assert fields.text() == {"card_number": LAN.card_number}


def test_a_card_number_is_taken_only_in_its_shape_and_only_if_unique() -> None:
    assert card_number_fields("SXX12345678AB\nNAME").text() == {"card_number": "XX12345678AB"}
    assert card_number_fields("XXI2345678AB").text() == {"card_number": "XX12345678AB"}  # a digit's place
    with pytest.raises(OcrError) as two:
        card_number_fields("XX12345678AB XX87654321CD")
    assert two.value.failure is OcrFailure.ambiguous
    with pytest.raises(OcrError) as none:
        card_number_fields("199004015018 NAMETESTINVENTED")  # twelve characters, not the shape
    assert none.value.failure is OcrFailure.not_found


def test_tesseract_has_a_deadline() -> None:
    with pytest.raises(OcrError) as late:
        read_still(page_still(HANAKO.mrz(), noise=10.0), OcrKind.passport, timeout_s=0.001)
    assert late.value.failure is OcrFailure.timeout


async def test_the_async_reading_runs_off_the_loop() -> None:
    fields = await read_still_async(card_still(LAN.card_number), OcrKind.residence_card)
    assert fields.text() == {"card_number": LAN.card_number}


def _route_client(camera: SceneCamera, csrf: Callable[[Request], bool]) -> httpx.AsyncClient:
    app = Starlette(routes=ocr_routes(lambda: camera, csrf))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


async def test_the_clerk_route_reads_the_camera_and_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    camera = SceneCamera(*FRAME)
    camera.show(passport_page(HANAKO.mrz()))
    async with _route_client(camera, lambda _request: True) as client:
        read = await client.post("/api/chip/ocr?kind=passport")
        assert read.status_code == 200
        assert read.json() == {"kind": "passport", "found": True, "fields": bac_fields(HANAKO)}
        camera.show(None)  # the test pattern: no MRZ
        missing = await client.post("/api/chip/ocr?kind=passport")
        assert missing.json() == {"kind": "passport", "found": False, "reason": "not_found"}
        unknown = await client.post("/api/chip/ocr?kind=licence")
        assert unknown.status_code == 400
    assert HANAKO.document_number not in caplog.text
    async with _route_client(camera, lambda _request: False) as client:
        refused = await client.post("/api/chip/ocr?kind=passport")
        assert refused.status_code == 403
        assert json.loads(refused.text) == {"error": "csrf"}
