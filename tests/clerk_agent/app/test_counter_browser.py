"""Headless Chromium drives the counter UI of the real agent (virtual card) through a real hub to a scripted officer."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page

from clerk_agent.card.virtual.build import person
from tests._chromium import chromium
from tests._seen import assert_clean, assert_in_viewport, enter_new_pins
from tests.clerk_agent.app._pdf import pdf_lines
from tests.clerk_agent.app.conftest import Agent, Hub, Officer

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[3] / "var" / "artifacts" / "counter"
HOLDER = person("yamada_hanako")
CHOSEN = ("KAKU2026X", "5813", "6924", "7035")  # the new card's PINs, invented for the test


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium (tests/_chromium.py)."""
    async with chromium() as launched:
        yield launched


async def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def _new_pins_told_by_field(applicant: Page) -> None:
    """A slip in one PIN's confirmation: the field is named in the page's language and only that PIN is cleared."""
    await applicant.wait_for_selector("#pin-choice[data-field='sign']", timeout=20000)
    await assert_in_viewport(applicant, "#pc-sign")
    for entry, value in (("#pc-sign", CHOSEN[0]), ("#pc-sign-again", CHOSEN[0])):
        await applicant.click(entry)
        for char in value:
            await applicant.click(f"#pin-choice button[data-key='{char}']")
    await applicant.click("#pc-next")
    await applicant.wait_for_selector("#pin-choice[data-field='auth']")
    for char in CHOSEN[1] + "9999":  # the first entry moves on to the confirmation by itself
        await applicant.click(f"#pin-choice button[data-key='{char}']")
    await applicant.click("#pc-next")
    await applicant.wait_for_selector("#pc-error", state="visible")
    told = await applicant.inner_text("#pc-error")
    assert "利用者証明用" in told, told
    assert "違います" in told, told
    assert await applicant.input_value("#pc-auth") == ""
    assert await applicant.input_value("#pc-auth-again") == ""
    await _shot(applicant, "08-applicant-pin-mismatch")
    await applicant.click("#pc-back")  # the signing password is still there, as typed
    assert await applicant.input_value("#pc-sign") == CHOSEN[0]
    await applicant.click("#pc-next")
    await applicant.wait_for_selector("#pin-choice[data-field='auth']")
    await applicant.click("#pc-back")
    await applicant.wait_for_selector("#pin-choice[data-field='sign']")


async def _case_id(agent: Agent) -> str:
    async with httpx.AsyncClient(base_url=agent.base) as ui:
        async with asyncio.timeout(20):
            while True:
                case = (await ui.get("/api/state")).json()["case"]
                if case and case["state"] == "queued_for_officer":
                    return str(case["case_id"])
                await asyncio.sleep(0.2)


async def _reference_shown(clerk: Page, applicant: Page, agent: Agent, case_id: str) -> None:
    """Both screens and the printed receipt give the 受付番号 and a Japanese date, never the case id or ISO."""
    reference = re.search(r"受付番号: (\d{5}-\d{4}-\d{3})", await clerk.inner_text("#receipt-reference"))
    assert reference, await clerk.inner_text("main")
    assert re.fullmatch(
        r"受付日時: \d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", await clerk.inner_text("#receipt-date")
    )
    await applicant.wait_for_selector("#applicant-reference")
    assert reference.group(1) in await applicant.inner_text("#applicant-reference")
    for page in (clerk, applicant):
        shown = await page.inner_text("body")
        assert case_id not in shown
        assert not re.search(r"\d{4}-\d{2}-\d{2}T", shown)
    async with httpx.AsyncClient(base_url=agent.base) as ui:
        lines = pdf_lines((await ui.get("/receipt.pdf")).content)
    assert f"受付番号 Reference: {reference.group(1)}" in lines
    assert not [line for line in lines if "case_" in line or line[:1] in "。、"], lines


async def _in_english(clerk: Page, applicant: Page, name: str) -> None:
    """Both screens switched to English show no Japanese outside data (tests/_seen.py), then back to Japanese."""
    for page in (clerk, applicant):
        await page.click("#lang")
        await page.wait_for_function("document.documentElement.lang === 'en'")
        await assert_clean(page, "en")
    await _shot(clerk, f"{name}-clerk-en")
    for page in (clerk, applicant):
        await page.click("#lang")
        await page.wait_for_function("document.documentElement.lang === 'ja'")


async def test_renewal_through_the_counter_ui(browser: Browser, hub: Hub, agent: Agent) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    clerk = await context.new_page()
    applicant = await context.new_page()
    blocked: list[str] = []
    for page in (clerk, applicant):
        page.on("requestfailed", lambda request: blocked.append(request.url))
    await clerk.goto(f"{agent.base}/")
    await applicant.goto(f"{agent.base}/applicant")
    await clerk.wait_for_selector("#start-card_renewal")
    await assert_clean(clerk)
    await assert_clean(applicant)
    await assert_in_viewport(clerk, "#start-card_renewal")
    await _shot(clerk, "01-clerk-procedure")
    await _in_english(clerk, applicant, "01-procedure")
    await clerk.fill("#form-id", "11112222333344445555666")
    await clerk.click("#start-card_renewal")
    await clerk.wait_for_selector("#eligibility-submit")
    await _shot(clerk, "02-clerk-eligibility")
    # Yes/no questions start unanswered (no pre-ticked box); sending them so is refused next to the form.
    assert await clerk.locator("#eligibility input:checked").count() == 0
    await clerk.click("#eligibility-submit")
    await clerk.wait_for_selector("#eligibility-error", state="visible")
    # An answer that rules the post office out: the reasons, then a withdrawal that asks first, or a correction.
    for choice in await clerk.locator("input[data-eligible]").all():
        await choice.check()
    await clerk.check("#q-proxy_applicant-yes")
    await clerk.click("#eligibility-submit")
    await clerk.wait_for_selector("#ineligible li[data-code=proxy_not_allowed]", timeout=20000)
    await clerk.click("#withdraw")
    await clerk.wait_for_selector("#withdraw-question")
    assert "元に戻せません" in await clerk.inner_text("#withdraw-question")
    await _shot(clerk, "02b-clerk-withdraw-asks")
    await clerk.click("#withdraw-cancel")
    await clerk.click("#eligibility-revise")
    for choice in await clerk.locator("input[data-eligible]").all():
        await choice.check()
    await clerk.click("#eligibility-submit")
    await clerk.wait_for_selector("#consents-submit", timeout=20000)
    await assert_clean(clerk)
    await assert_clean(applicant)
    await _in_english(clerk, applicant, "03-consents")  # before ticking: a switch re-draws the form
    for consent in ("recording", "id_copy", "pin_entry"):
        await clerk.check(f"#c-{consent}")
    await _shot(clerk, "03-clerk-consents")
    await clerk.click("#consents-submit")
    await clerk.click("#card-check")
    await clerk.wait_for_selector("#request-verification")
    await assert_clean(clerk)
    await assert_in_viewport(clerk, "#request-verification")
    assert "3" in (await clerk.inner_text("#pin-retries"))
    await _shot(clerk, "04-clerk-card")
    await clerk.click("#request-verification")
    await clerk.wait_for_selector("#queue-position")
    # The hub's count of officers on duty, or words for none — never a bare 「-人」.
    await clerk.wait_for_function(
        "() => /[0-9]+人|現在いません/.test(document.getElementById('queue-officers').textContent)"
    )
    assert "-人" not in await clerk.inner_text("#queue-officers")
    await _shot(clerk, "05-clerk-queue")
    await _shot(applicant, "05-applicant-waiting")

    async with httpx.AsyncClient() as officer_http:
        officer = await Officer.login(hub, officer_http)
        case_id = await _case_id(agent)
        await officer.accept(case_id)
        await clerk.wait_for_selector("#code-b", timeout=20000)
        assert "和暦" in await clerk.inner_text("#code-b-hint")
        # The birth year typed western (1985 → 85) instead of 昭和60: told to the clerk, not as a wrong PIN.
        await clerk.fill("#code-b", "85" + HOLDER.code_b[2:])
        await clerk.click("#code-b-submit")
        await clerk.wait_for_selector("#code-b-error", timeout=20000)
        assert "照合番号Bが違います" in await clerk.inner_text("#code-b-error")
        assert "9回" in await clerk.inner_text("#code-b-retries")
        assert await applicant.locator("#pin-tries").count() == 0
        await _shot(clerk, "06-clerk-code-b-wrong")
        await clerk.fill("#code-b", HOLDER.code_b)
        await clerk.click("#code-b-submit")
        await applicant.wait_for_selector("#pin-tries", timeout=20000)
        assert "残り3回" in await applicant.inner_text("#pin-tries")
        await _shot(applicant, "06-applicant-pin")
        await assert_clean(applicant)
        await assert_in_viewport(applicant, "#pin-send")
        for digit in HOLDER.auth_pin:
            await applicant.click(f"button[data-digit='{digit}']")
        await applicant.click("#pin-send")
        await clerk.wait_for_selector("#evidence-done", timeout=20000)
        await assert_clean(clerk)
        await _shot(clerk, "07-clerk-evidence-sent")
        await officer.review_and_approve(case_id)
        await clerk.wait_for_selector("#choose-pins", timeout=20000)
        await assert_clean(clerk)
        await _shot(clerk, "08-clerk-approved")
        await _new_pins_told_by_field(applicant)
        await _shot(applicant, "08-applicant-choose-pins")
        await enter_new_pins(applicant, CHOSEN)
        await clerk.wait_for_selector("#receipt-link", timeout=20000)
        await assert_clean(clerk)
        await assert_clean(applicant)
        await _reference_shown(clerk, applicant, agent, case_id)
        await _shot(clerk, "09-clerk-receipt")
        await _shot(applicant, "09-applicant-done")
        await clerk.click("#lang")
        await clerk.wait_for_function("document.documentElement.lang === 'en'")
        assert "Receipt" in await clerk.inner_text("main")
        await assert_clean(clerk, "en")
        await _shot(clerk, "10-clerk-receipt-en")

    pages = [await page.content() for page in (clerk, applicant)]
    for html in pages:
        assert HOLDER.auth_pin not in html
        assert HOLDER.code_b not in html
    assert not [url for url in blocked if not url.startswith(agent.base)]
    await context.close()
    # The PIN, the chosen PINs and code B: in no page, agent log or file, hub row or hub log.
    from tests.clerk_agent.app.test_counter_flow import _assert_no_pin_anywhere

    _assert_no_pin_anywhere(hub, agent, pages, case_id)
