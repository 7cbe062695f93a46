"""The officer console shows the Japanese chip documents in the live check, in Japanese and English, in headless
Chromium against a real hub and the counter's real peer (docs/id-documents.md §Japanese).

The counter reads the virtual IC driving licence of the invented 佐藤 一郎 (name, birth date, address, validity and
the masked licence number from the signed 記載事項), then the virtual residence card of the invented NGUYEN VAN LAN,
whose name and expiry the officer reads off the signed card-face image shown beside the photo; then an altered
licence arrives and is shown refused with its reason. Screenshots go to var/artifacts/idchips/.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from service.accounts.roles import Role
from tests.factories import World
from tests.municipal_console._counter import counter_call, submit_card_proof
from tests.municipal_console._net import BrowserNet
from tests.municipal_console.test_console_e2e import log_in, new_page, queued_case, take_offer, video_flowing
from tests.service.conftest import CaseDriver
from tests.service.idchips.test_jp_chip_evidence import SATO, licence_readout, residence_readout

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "idchips"


async def _upload(device: httpx.AsyncClient, case_id: str, body: dict[str, object]) -> None:
    response = await device.post(f"/api/v1/cases/{case_id}/chip-readouts", json=body)
    assert response.status_code == 201, response.text


async def test_the_officer_sees_the_licence_and_the_residence_card_in_japanese_and_english(
    browser: Browser,
    hub_url: str,
    world: World,
    driver: CaseDriver,
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
        await submit_card_proof(world.device_a, case_id, dev_pki_dir, "yamada_hanako")
        await _upload(world.device_a, case_id, licence_readout(dev_pki_dir))
        await driver.device(case_id, "capture-evidence")

        await expect(page.locator("#chipdoc-body")).to_be_visible()
        await expect(page.locator("#chipdoc-verdict")).to_have_text("確認済み（発行者の署名が正しい）")
        await expect(page.locator("#chipdoc-kind")).to_have_text("運転免許証")
        await expect(page.locator("#chipdoc-name")).to_have_text(SATO.name)
        await expect(page.locator("#chipdoc-address")).to_have_text(SATO.address)
        await expect(page.locator("#chipdoc-birth")).to_have_text(SATO.birth_date.isoformat())
        await expect(page.locator("#chipdoc-valid-until")).to_have_text(SATO.valid_until.isoformat())
        await expect(page.locator("#chipdoc-number")).to_have_text("*********670")
        await expect(page.locator("#chipdoc-photo")).to_be_visible()
        await expect(page.locator("#chipdoc-card-face-figure")).to_be_hidden()
        await expect(page.locator("#chipdoc-checks tr[data-ok=false]")).to_have_count(0)
        # A different person from the My Number Card's: the birth dates differ, a flag for the officer.
        await expect(page.locator("#chipdoc-match-birth")).to_have_attribute("data-match", "differs")
        await page.locator("#chipdoc-title").scroll_into_view_if_needed()
        await page.screenshot(path=ARTIFACTS / "11-licence-verified-ja.png", full_page=True)

        await _upload(world.device_a, case_id, residence_readout(dev_pki_dir))
        await expect(page.locator("#chipdoc-kind")).to_have_text("在留カード", timeout=20_000)
        await expect(page.locator("#chipdoc-card-face-figure")).to_be_visible()
        assert await page.evaluate("document.getElementById('chipdoc-card-face').naturalWidth") == 640
        await expect(page.locator("#chipdoc-name")).to_have_text("—")
        await expect(page.locator("#chipdoc-number")).to_have_text(
            "—"
        )  # the card number never reaches the hub
        await page.click("#lang-toggle")
        await expect(page.locator("#chipdoc-kind")).to_have_text("Residence card")
        await expect(page.locator("#chipdoc-card-face-figure figcaption")).to_have_text(
            "Card face in the chip (signed)"
        )
        await page.locator("#chipdoc-title").scroll_into_view_if_needed()
        await page.screenshot(path=ARTIFACTS / "12-residence-card-verified-en.png", full_page=True)

        await _upload(world.device_a, case_id, licence_readout(dev_pki_dir, alter_after_signing=True))
        await expect(page.locator("#chipdoc-verdict")).to_have_text(
            "Not verified: Issuer signature invalid", timeout=20_000
        )
        await page.click("#lang-toggle")
        await expect(page.locator("#chipdoc-verdict")).to_have_text("確認できない: 発行者の署名が正しくない")
        await page.screenshot(path=ARTIFACTS / "13-licence-altered-ja.png", full_page=True)
    assert errors == []
