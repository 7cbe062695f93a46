"""The screens at the counter in headless Chromium against the real agent and hub.

- The applicant's PIN pad and photo check fit a 1024×768 screen: every control they act on is inside the
  viewport, and the page does not scroll.
- The clerk sees the counter camera while the 申請書ID is scanned, then 読み取りました, and during the call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests._chromium import chromium
from tests.clerk_agent.app.conftest import Agent, CounterClient, Hub, Officer
from tests.clerk_agent.app.test_counter_flow import HOLDER, _renewal_until_live
from tests.factories import ELIGIBLE

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[3] / "var" / "artifacts" / "counter"
SCREEN: ViewportSize = {"width": 1024, "height": 768}
DEMO_FORM_ID = "20260401000000000012345"  # the form the clerk screen's demo button holds up


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium (tests/_chromium.py)."""
    async with chromium() as launched:
        yield launched


async def _shot(page: Page, name: str, tmp_path: Path) -> None:
    """The viewport as a person sees it, in the test's directory and with the other counter screenshots."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for folder in (tmp_path, ARTIFACTS):
        await page.screenshot(path=str(folder / f"{name}.png"))


async def _outside_viewport(page: Page, selector: str) -> list[str]:
    """The controls matching `selector` that are not wholly inside the viewport (as id or text)."""
    return list(
        await page.evaluate(
            """(selector) => [...document.querySelectorAll(selector)].filter((node) => {
                const box = node.getBoundingClientRect();
                return box.width === 0 || box.top < 0 || box.left < 0
                  || box.bottom > window.innerHeight || box.right > window.innerWidth;
              }).map((node) => node.id || node.textContent)""",
            selector,
        )
    )


async def test_the_pin_pad_fits_a_1024_by_768_screen(
    browser: Browser, hub: Hub, agent: Agent, tmp_path: Path
) -> None:
    context = await browser.new_context(viewport=SCREEN, locale="ja-JP")
    clerk, applicant = await context.new_page(), await context.new_page()
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter = CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await _renewal_until_live(counter, officer)
        await clerk.goto(f"{agent.base}/")
        # During the call the clerk sees what the counter camera sends.
        await expect(clerk.locator("#camera-preview")).to_be_visible(timeout=20_000)
        await clerk.wait_for_function(
            "() => document.getElementById('camera-preview')?.naturalWidth > 0", timeout=20_000
        )
        await _shot(clerk, "clerk-call-camera", tmp_path)
        await counter.post("/api/code-b", {"code_b": HOLDER.code_b})
        await applicant.goto(f"{agent.base}/applicant")
        await expect(applicant.locator("#pin-send")).to_be_visible(timeout=20_000)
        await _shot(applicant, "applicant-pin-1024x768", tmp_path)

        controls = "#screen button, #screen input, #lang, #pin-tries, #pin-dots"
        assert await applicant.locator(controls).count() >= 13  # ten digits, clear, OK, language
        assert await _outside_viewport(applicant, controls) == []
        scroll = await applicant.evaluate(
            "() => [document.scrollingElement.scrollHeight, window.innerHeight]"
        )
        assert scroll[0] <= scroll[1], scroll
        # English labels are longer: the pad still fits.
        await applicant.click("#lang")
        await expect(applicant.locator("#pin-send")).to_have_text("OK")
        assert await _outside_viewport(applicant, controls) == []
        for digit in HOLDER.auth_pin:
            await applicant.click(f"button[data-digit='{digit}']")
        await applicant.click("#pin-send")
        await counter.until("evidence_captured")
    await context.close()


async def test_the_clerk_sees_the_camera_while_scanning_and_then_read(
    browser: Browser, agent: Agent, tmp_path: Path
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    clerk = await context.new_page()
    async with httpx.AsyncClient(base_url=agent.base) as ui:
        counter = CounterClient(ui)
        await counter.open()
        await clerk.goto(f"{agent.base}/")
        await expect(clerk.locator("#scan-form-id")).to_be_visible()
        assert await clerk.locator("#camera-preview").count() == 0  # no camera picture before scanning
        await clerk.click("#scan-form-id")
        # Nothing in front of the camera yet: the clerk sees what it sees while it looks for the code.
        await clerk.wait_for_function(
            "() => document.getElementById('camera-preview')?.naturalWidth > 0", timeout=20_000
        )
        # The form held up within the scan's few seconds (the demo button of the synthetic camera).
        await clerk.click("#demo-show-form")
        await expect(clerk.locator("#scan-done")).to_contain_text("読み取りました", timeout=20_000)
        await expect(clerk.locator("#scan-done")).to_contain_text(DEMO_FORM_ID)
        await expect(clerk.locator("#form-id")).to_have_value(DEMO_FORM_ID)
        assert await clerk.locator("#camera-preview").count() == 0
        await _shot(clerk, "clerk-scanned", tmp_path)
    await context.close()


async def test_the_photo_check_fits_a_1024_by_768_screen(
    browser: Browser, hub: Hub, agent: Agent, tmp_path: Path
) -> None:
    context = await browser.new_context(viewport=SCREEN, locale="ja-JP")
    applicant = await context.new_page()
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter = CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        await counter.post(
            "/api/cases", {"procedure": "card_application", "shinseisho_id": "55556666777788889999000"}
        )
        await counter.post("/api/eligibility", ELIGIBLE)
        await counter.until("eligibility_precheck")
        await counter.post("/api/consents", {"recording": True, "id_copy": True, "pin_entry": True})
        await counter.post("/api/request-verification")
        queued = await counter.until("queued_for_officer")
        await officer.accept(str(queued["case"]["case_id"]))  # type: ignore[index]
        await counter.until("session_live")
        await counter.post("/api/photo/preview", {"on": True})
        await counter.post("/api/photo/take")
        await applicant.goto(f"{agent.base}/applicant")
        await expect(applicant.locator("#photo-approve")).to_be_visible(timeout=20_000)
        await applicant.wait_for_function(
            "() => document.getElementById('applicant-photo')?.naturalWidth > 0"
        )
        await _shot(applicant, "applicant-photo-1024x768", tmp_path)
        controls = "#screen button, #lang, #applicant-photo"
        assert await _outside_viewport(applicant, controls) == []
        scroll = await applicant.evaluate(
            "() => [document.scrollingElement.scrollHeight, window.innerHeight]"
        )
        assert scroll[0] <= scroll[1], scroll
    await context.close()
