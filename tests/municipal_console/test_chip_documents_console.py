"""The officer console shows the applicant's ID-document chip in the live check, in Japanese and English, in headless
Chromium against a real hub and the counter's real peer.

The counter reads the virtual passport of 山田 花子 (in process) and the virtual My Number Card; the console shows the
chip photo, the chip data, each check, the birth-date flag against the card face, and lets the officer tick the
authenticity item "chip verified". Then an altered passport arrives and is shown refused with its reason.
Screenshots go to var/artifacts/idchips/.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from clerk_agent.card.idchips.passport import MrzAccess, PassportReader
from clerk_agent.card.virtual.idchips.lds import HOLDERS
from clerk_agent.card.virtual.idchips.passport import VirtualPassport, build_passport, load_signer
from clerk_agent.card.virtual.idchips.slot import InProcessChipSlot
from service.accounts.roles import Role
from tests.factories import World
from tests.municipal_console._counter import counter_call, submit_card_proof
from tests.municipal_console._net import BrowserNet
from tests.municipal_console.test_console_e2e import log_in, new_page, queued_case, take_offer, video_flowing
from tests.service.conftest import CaseDriver

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "idchips"
HANAKO = HOLDERS["yamada_hanako"]


async def _upload(device: httpx.AsyncClient, case_id: str, passport: VirtualPassport) -> None:
    access = MrzAccess(HANAKO.document_number, HANAKO.birth, HANAKO.expiry_yymmdd)
    read = PassportReader(InProcessChipSlot(passport), access).read()
    response = await device.post(
        f"/api/v1/cases/{case_id}/chip-readouts", json=read.readout().model_dump(mode="json")
    )
    assert response.status_code == 201, response.text


async def _review(world: World, client: httpx.AsyncClient, case_id: str) -> dict[str, Any]:
    for _ in range(50):
        response = await client.get(f"/api/v1/cases/{case_id}/review", headers=world.h("a", Role.officer))
        found = dict(response.json())
        if found.get("checklist"):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("the checklist never reached the hub")


async def test_the_officer_sees_the_passport_chip_and_ticks_chip_verified_in_japanese_and_english(
    browser: Browser,
    hub_url: str,
    world: World,
    driver: CaseDriver,
    client: httpx.AsyncClient,
    dev_pki_dir: Path,
    browser_net: BrowserNet,
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    case_id = await queued_case(driver)
    page, errors = await new_page(browser, hub_url)
    await log_in(page, world.a.usernames[Role.officer])
    await expect(page.locator("#screen-queue")).to_be_visible()
    async with counter_call(world.device_a, case_id):
        await take_offer(page, ARTIFACTS, case_id)
        await video_flowing(page)
        await expect(page.locator("#chipdoc-empty")).to_be_visible()
        await submit_card_proof(world.device_a, case_id, dev_pki_dir, "yamada_hanako")
        signer = load_signer(dev_pki_dir)
        await _upload(world.device_a, case_id, build_passport(HANAKO, signer))
        await driver.device(case_id, "capture-evidence")

        await expect(page.locator("#chipdoc-body")).to_be_visible()
        await expect(page.locator("#chipdoc-photo")).to_be_visible()
        assert await page.evaluate("document.getElementById('chipdoc-photo').naturalWidth") == 240
        await expect(page.locator("#chipdoc-verdict")).to_have_text("確認済み（発行者の署名が正しい）")
        await expect(page.locator("#chipdoc-kind")).to_have_text("旅券（パスポート）")
        await expect(page.locator("#chipdoc-name")).to_have_text("YAMADA HANAKO")
        await expect(page.locator("#chipdoc-birth")).to_have_text("1985-04-12")
        await expect(page.locator("#chipdoc-number")).to_have_text("******853")
        await expect(page.locator("#chipdoc-checks tr")).to_have_count(9)
        await expect(page.locator("#chipdoc-checks tr[data-ok=false]")).to_have_count(0)
        await expect(page.locator("#chipdoc-checks tr[data-check=data_hashes] th")).to_have_text(
            "データのハッシュ値"
        )
        # The chip and the My Number Card's face give the same birth date: a flag, not a decision.
        await expect(page.locator("#chipdoc-match-birth")).to_have_attribute("data-match", "same")
        await expect(page.locator("#chip-photo")).to_be_visible()

        await expect(page.locator("#chipdoc-authentic")).to_be_visible()
        assert not await page.is_checked("#checklist input[name=documents_authentic]")
        await page.click("#chipdoc-tick")
        assert await page.is_checked("#checklist input[name=documents_authentic]")
        await expect(page.locator("#chipdoc-authentic-note")).to_have_text("ICチップ確認済み")
        await page.check("#checklist input[value=A2]")
        await page.click("#checklist-save")
        review = await _review(world, client, case_id)
        # The hub records the ground, and checks a verified chip stands behind it (docs/id-documents.md §Console).
        assert review["checklist"]["documents_authentic_basis"] == "chip_verified"
        await page.locator("#chipdoc-title").scroll_into_view_if_needed()
        await page.screenshot(path=ARTIFACTS / "01-passport-verified-ja.png", full_page=True)

        await page.click("#lang-toggle")
        await expect(page.locator("#chipdoc-verdict")).to_have_text("Verified (issuer signature holds)")
        await expect(page.locator("#chipdoc-kind")).to_have_text("Passport")
        await expect(page.locator("#chipdoc-checks tr[data-check=issuer_chain] th")).to_have_text(
            "Issuer certificate chain"
        )
        await expect(page.locator("#chipdoc-match-birth")).to_contain_text("same")
        await page.screenshot(path=ARTIFACTS / "02-passport-verified-en.png", full_page=True)

        # An altered passport read later: the newest chip document is shown, refused with its reason named.
        await _upload(world.device_a, case_id, build_passport(HANAKO, signer, tamper="DG1"))
        await expect(page.locator("#chipdoc-verdict")).to_have_text(
            "Not verified: Data altered (hash mismatch)", timeout=20_000
        )
        await expect(page.locator("#chipdoc-checks tr[data-ok=false]")).to_have_count(1)
        await expect(page.locator("#chipdoc-authentic")).to_be_hidden()
        await page.click("#lang-toggle")
        await expect(page.locator("#chipdoc-verdict")).to_have_text(
            "確認できない: データが改ざんされている（ハッシュ不一致）"
        )
        await page.screenshot(path=ARTIFACTS / "03-passport-altered-ja.png", full_page=True)
    assert errors == []
