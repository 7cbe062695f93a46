"""Headless Chromium at the counter: the access data read from the counter camera (docs/id-documents.md §OCR).

In the live call the clerk chooses the residence card; the camera first sees no document, and the screen says in
Japanese words what to do (hold it flat and still, or type it). The synthetic camera then shows the virtual residence
card: 「カメラから読み取る」 prefills its number, the hint asks the clerk to compare it with the card, the clerk reads
and the verified read reaches the hub; the field is empty afterwards. The same for the passport's data page and its
three MRZ fields. The call's actions stay in the window at 1280×900 and at 1920×1080. Afterwards the card number is
in no page, agent log or file, hub row or hub log, and the passport number in no agent log.
Screenshots: var/artifacts/counter/idchips/ocr-*.png.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from clerk_agent.card.virtual.idchips.jp_pki import signer_from_dev_pki
from clerk_agent.card.virtual.idchips.lds import HOLDERS
from clerk_agent.card.virtual.idchips.passport import passport_from_dev_pki
from clerk_agent.card.virtual.idchips.residence import build_virtual_residence_card
from clerk_agent.card.virtual.pcscd import VpcdSlot
from clerk_agent.card.virtual.vicc import ViccClient
from tests._seen import assert_clean, assert_in_sight
from tests.clerk_agent.app.conftest import Hub, Officer, agent_running
from tests.clerk_agent.app.test_counter_browser import browser  # noqa: F401
from tests.clerk_agent.app.test_counter_browser_idchips_pcscd import (
    LAN,
    WAIT,
    Screens,
    _assert_no_access_data_anywhere,
    _chip_documents,
    _to_the_call,
    _told,
    assert_call_actions_in_sight,
)
from tests.plugins.pcsc_slot import plug, unplug

try:
    from playwright.async_api import Browser, Page
except ImportError:  # pragma: no cover - the dev extra is missing (the browser fixture reports it)
    Browser = Page = object  # type: ignore[misc,assignment]

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.pcsc]
HANAKO = HOLDERS["yamada_hanako"]


async def _residence_from_camera(screens: Screens, officer: Officer, case_id: str) -> None:
    clerk = screens.clerk
    await clerk.click("#chip-doc-residence_card")
    await clerk.wait_for_selector("#chip-ocr-residence_card", timeout=WAIT)
    for control in ("#chip-card-number", "#chip-ocr-residence_card", "#chip-read-residence"):
        await assert_in_sight(clerk, control)
    await assert_call_actions_in_sight(clerk)
    await assert_clean(clerk)
    # The camera sees the applicant, not a card: the reason in words, and the way on (flat and still, or type it).
    await clerk.click("#chip-ocr-residence_card")
    told = await _told(clerk, "#chip-ocr-note")
    assert await clerk.get_attribute("#chip-ocr-note", "data-reason") == "not_found"
    assert "平ら" in told, told
    assert "入力" in told, told
    assert await clerk.input_value("#chip-card-number") == ""
    for control in ("#chip-card-number", "#chip-ocr-residence_card", "#chip-read-residence"):
        await assert_in_sight(clerk, control)
    await assert_call_actions_in_sight(clerk)
    await screens.shot("residence-not-found")
    # The card held up: the number is prefilled, the clerk is told to compare it, nothing is read yet.
    await clerk.click("#demo-show-residence_card")
    await clerk.click("#chip-ocr-residence_card", timeout=WAIT)
    await clerk.wait_for_selector("#chip-ocr-done", timeout=WAIT)
    assert await clerk.input_value("#chip-card-number") == LAN.card_number
    assert "書類と見比べてから読み取ってください" in await clerk.inner_text("#chip-ocr-done")
    await assert_in_sight(clerk, "#chip-read-residence")
    assert not await _chip_documents(officer, case_id)
    await assert_clean(clerk)  # the not-found note is gone
    await screens.shot("residence-prefilled")
    await clerk.click("#chip-read-residence")
    await clerk.wait_for_selector("#chip-result[data-verdict=verified]", timeout=WAIT)
    assert await clerk.input_value("#chip-card-number") == ""  # emptied like a typed number
    assert await clerk.locator("#chip-ocr-done").count() == 0
    assert LAN.card_number[-3:] in await clerk.inner_text("#chip-result")
    await assert_clean(clerk)
    await assert_call_actions_in_sight(clerk)
    await screens.shot("residence-verified")
    (summary,) = await _chip_documents(officer, case_id)
    assert (summary["document_kind"], summary["verdict"]) == ("residence_card", "verified"), summary


async def _passport_from_camera(screens: Screens, officer: Officer, case_id: str) -> None:
    clerk = screens.clerk
    await clerk.click("#chip-change")
    await clerk.click("#chip-doc-passport", timeout=WAIT)
    await clerk.wait_for_selector("#chip-ocr-passport", timeout=WAIT)
    await clerk.click("#demo-show-passport")
    await clerk.click("#chip-ocr-passport", timeout=WAIT)
    await clerk.wait_for_selector("#chip-ocr-done", timeout=WAIT)
    prefilled = [await clerk.input_value(f"#mrz-{name}") for name in ("number", "birth", "expiry")]
    assert prefilled == [HANAKO.document_number, HANAKO.birth, HANAKO.expiry_yymmdd]
    for control in ("#mrz-expiry", "#chip-ocr-passport", "#chip-read-passport"):
        await assert_in_sight(clerk, control)
    await assert_call_actions_in_sight(clerk)
    await assert_clean(clerk)
    await screens.shot("passport-prefilled")
    await clerk.click("#chip-read-passport")
    await clerk.wait_for_selector("#chip-result[data-verdict=verified]", timeout=WAIT)
    assert [await clerk.input_value(f"#mrz-{name}") for name in ("number", "birth", "expiry")] == ["", "", ""]
    await assert_clean(clerk)
    await screens.shot("passport-verified")
    kinds = [(s["document_kind"], s["verdict"]) for s in await _chip_documents(officer, case_id)]
    assert kinds == [("residence_card", "verified"), ("passport", "verified")], kinds


async def _reasons_in_english(screens: Screens) -> None:
    """Once in English: the reason is the English sentence, with no raw code."""
    clerk = screens.clerk
    await clerk.click("#lang")
    await clerk.wait_for_function("document.documentElement.lang === 'en'")
    await clerk.click("#chip-change")
    await clerk.click("#chip-doc-residence_card", timeout=WAIT)
    await clerk.click("#demo-seat-cardholder", timeout=WAIT)  # the camera sees the applicant again
    await clerk.click("#chip-ocr-residence_card", timeout=WAIT)
    told = await _told(clerk, "#chip-ocr-note", "en")
    assert "flat and still" in told, told
    await screens.shot("residence-not-found-en")
    await clerk.click("#lang")
    await clerk.wait_for_function("document.documentElement.lang === 'ja'")


async def test_the_access_data_is_read_from_the_counter_camera(
    browser: Browser,  # noqa: F811
    hub: Hub,
    tmp_path: Path,
    agent_pki: Path,
    vpcd_slot: VpcdSlot,
    insert: list[ViccClient],
) -> None:
    residence = build_virtual_residence_card(LAN.key, signer=signer_from_dev_pki(agent_pki, "residence_card"))
    passport = passport_from_dev_pki(agent_pki)
    on_reader = await asyncio.to_thread(plug, insert, residence, vpcd_slot)
    async with (
        agent_running(hub, tmp_path / "agent", agent_pki, document_reader=vpcd_slot.reader) as agent,
        httpx.AsyncClient() as officer_http,
    ):
        officer = await Officer.login(hub, officer_http)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        screens = Screens(await context.new_page(), await context.new_page(), prefix="ocr-")
        case_id = await _to_the_call(screens, agent.base, officer)
        await _residence_from_camera(screens, officer, case_id)
        await asyncio.to_thread(unplug, on_reader, vpcd_slot)
        insert.remove(on_reader)
        await asyncio.to_thread(plug, insert, passport, vpcd_slot)
        await _passport_from_camera(screens, officer, case_id)
        await _reasons_in_english(screens)
        # A full-HD counter display: the same actions in sight.
        await screens.clerk.set_viewport_size({"width": 1920, "height": 1080})
        await assert_call_actions_in_sight(screens.clerk)
        await screens.shot("full-hd")
        await context.close()
        _assert_no_access_data_anywhere(hub, agent.data_dir, agent.log_records, screens.html)
        assert not [line for line in agent.log_records if HANAKO.document_number in line]
