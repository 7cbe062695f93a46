"""The live check on one screen, in Chromium against a real hub and the counter's real aiortc peer.

At 1920×1080 the counter's video, the chip photo, the card-proof checks and the decision are all in view and the
page does not scroll; at 1366×768 the columns scroll inside and the decision buttons stay in view. A document still
opens over the screen, and turned by 90° it still fits inside it. After the decision the officer sees how long the
hub's wrap-up lasts, in Japanese and in English, and no error. Viewport screenshots go to var/artifacts/console/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from service.accounts.roles import Role
from service.config import Settings
from tests.factories import World
from tests.municipal_console._counter import counter_call, post_document_still, submit_card_proof
from tests.municipal_console.test_console_e2e import (
    WAIT_MS,
    case_state,
    log_in,
    queued_case,
    take_offer,
    video_flowing,
)
from tests.service.conftest import CaseDriver

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WRAPUP_SECONDS = 60
# What the officer must see at once during the check: the picture, the chip photo, the checks, the decision.
ESSENTIALS = (
    "#remote-video",
    "#chip-photo",
    "#proof-table",
    "#decision-approve",
    "#decision-reject",
    "#decision-refer",
    "#decision-abort",
    "#decision-submit",
)
DECISION = ESSENTIALS[3:]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The console tests' hub, with a wrap-up long enough to watch it count down."""
    return settings.model_copy(update={"officer_wrapup_seconds": WRAPUP_SECONDS})


async def _shot(page: Page, artifacts: Path, name: str) -> None:
    """A screenshot of the viewport, as the officer sees it (a full-page capture would resize the view and pause
    the video's frame callbacks; tests/test_demo_walkthrough.py does the same)."""
    await page.screenshot(path=str(artifacts / f"{name}.png"))


async def _box(page: Page, selector: str) -> dict[str, Any]:
    box: dict[str, Any] = await page.locator(selector).evaluate(
        "(node) => { const r = node.getBoundingClientRect();"
        " return {top: r.top, left: r.left, bottom: r.bottom, right: r.right, w: r.width, h: r.height,"
        " vw: window.innerWidth, vh: window.innerHeight}; }"
    )
    return box


async def _in_view(page: Page, selectors: tuple[str, ...]) -> None:
    for selector in selectors:
        box = await _box(page, selector)
        assert min(box["w"], box["h"]) > 0, f"{selector} is not shown: {box}"
        assert min(box["top"], box["left"]) >= 0, f"{selector} is above or left of the view: {box}"
        assert box["bottom"] <= box["vh"], f"{selector} runs below the view: {box}"
        assert box["right"] <= box["vw"], f"{selector} runs right of the view: {box}"


async def _shows(page: Page, selector: str) -> None:
    """At least part of `selector` is in the view (a panel may scroll inside for the rest)."""
    box = await _box(page, selector)
    assert min(box["w"], box["h"]) > 0, f"{selector} is not shown: {box}"
    assert 0 <= box["top"] < box["vh"], f"{selector} starts outside the view: {box}"
    assert box["left"] >= 0, f"{selector}: {box}"
    assert box["right"] <= box["vw"], f"{selector}: {box}"


async def _page_scrolls(page: Page) -> bool:
    return bool(
        await page.evaluate(
            "() => document.scrollingElement.scrollHeight > window.innerHeight"
            " || document.scrollingElement.scrollWidth > window.innerWidth"
        )
    )


async def test_the_live_check_fits_one_screen_and_the_wrapup_counts_down(
    browser: Browser,
    hub_url: str,
    world: World,
    driver: CaseDriver,
    client: httpx.AsyncClient,
    dev_pki_dir: Path,
    artifacts: Path,
) -> None:
    case_id = await queued_case(driver)
    context = await browser.new_context(viewport={"width": 1920, "height": 1080}, locale="ja-JP")
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    await page.goto(f"{hub_url}/console/")
    await log_in(page, world.a.usernames[Role.officer])
    async with counter_call(world.device_a, case_id):
        await take_offer(page, artifacts, case_id)
        await video_flowing(page)
        await submit_card_proof(world.device_a, case_id, dev_pki_dir, "yamada_hanako")
        still = await post_document_still(world.device_a, case_id)
        await driver.device(case_id, "capture-evidence")
        await expect(page.locator("#chip-photo")).to_be_visible()
        await expect(page.locator("#proof-checks tr[data-check=signature] td").first).to_have_text("合格")

        # 1920×1080: everything the decision rests on is in view, and the page itself does not scroll.
        assert not await _page_scrolls(page)
        await _in_view(page, ESSENTIALS)
        video, photo = await _box(page, "#remote-video"), await _box(page, "#chip-photo")
        assert photo["left"] >= video["right"], "the chip photo is beside the video"
        assert photo["top"] < video["bottom"]
        await _shot(page, artifacts, "20-live-1920x1080")

        # 1366×768: the columns scroll inside, the page does not; the decision buttons are wholly in view, and the
        # video, the chip photo and the checks show without the officer scrolling anything.
        await page.set_viewport_size({"width": 1366, "height": 768})
        assert not await _page_scrolls(page)
        await _in_view(page, DECISION)
        await _in_view(page, ("#remote-video", "#chip-photo"))
        await _shows(page, "#proof-checks tr[data-check=signature]")
        await _shot(page, artifacts, "21-live-1366x768")

        # The document still opens over the screen; turned by 90° the whole still stays inside the overlay.
        await page.click(f"#doc-list button[data-evidence='{still.json()['id']}']")
        overlay = page.locator("#doc-overlay")
        await expect(overlay).to_be_visible()
        image = page.locator("#doc-stage img")
        await expect(image).to_have_attribute("data-evidence", still.json()["id"])
        await expect(page.locator("#doc-stage")).to_be_focused()
        await page.keyboard.press("r")
        await expect(image).to_have_attribute("data-rotate", "90")
        # Measured once the turn's short transition has ended.
        await page.wait_for_function(
            "() => document.querySelector('#doc-stage img').getAnimations().length === 0"
        )
        fit: dict[str, Any] = await page.evaluate(
            "() => { const s = document.getElementById('doc-stage'); const r = s.getBoundingClientRect();"
            " const i = s.querySelector('img').getBoundingClientRect();"
            " return {inside: i.top >= r.top - 0.5 && i.left >= r.left - 0.5 && i.bottom <= r.bottom + 0.5"
            " && i.right <= r.right + 0.5, scrolls: s.scrollHeight > s.clientHeight || s.scrollWidth > s.clientWidth,"
            " ratio: i.height / i.width, fills: Math.max(i.height / r.height, i.width / r.width)}; }"
        )
        assert fit["inside"], fit
        assert not fit["scrolls"], fit
        assert fit["ratio"] == pytest.approx(640 / 400, rel=0.02)  # the 640×400 still, turned: tall
        assert fit["fills"] > 0.9  # as large as the overlay allows, not shrunk to a thumbnail
        await _shot(page, artifacts, "22-still-overlay-turned")
        await page.keyboard.press("Escape")
        await expect(overlay).to_be_hidden()
        await expect(page.locator(f"#doc-list button[data-evidence='{still.json()['id']}']")).to_be_focused()
        await page.click(f"#doc-list button[data-evidence='{still.json()['id']}']")
        await expect(overlay).to_be_visible()
        await page.click("#doc-close")
        await expect(overlay).to_be_hidden()

        await page.click("#liveness-new")
        await expect(page.locator("#liveness-current")).to_be_visible()
        assert not await _page_scrolls(page)
        await _in_view(page, (*DECISION, "#liveness-passed"))
        await page.click("#liveness-passed")
        await page.check("#checklist input[value=my_number_card_ic]")
        for name in ("face_match", "attributes_match", "eligibility_confirmed", "documents_authentic"):
            await page.check(f"#checklist input[name={name}]")
        await page.click("#checklist-save")
        await page.click("#begin-review")
        await expect(page.locator("#live-state")).to_have_attribute("data-state", "officer_review")
        await expect(page.locator("#review-ready")).to_be_visible()
        assert not await _page_scrolls(page)
        await _in_view(page, DECISION)
        await page.check("#decision-approve")
        await page.check("#decision-attest")
        await page.click("#decision-submit")
        await expect(page.locator("#done-state")).to_have_attribute("data-state", "approved")

    # The wrap-up: how long until the next offer, counted down; no error beside the recorded decision.
    await expect(page.locator("#wrapup")).to_be_visible()
    left = int(await page.locator("#wrapup-left").inner_text())
    assert 0 < left <= WRAPUP_SECONDS
    await expect(page.locator("#wrapup")).to_contain_text("後処理")
    await expect(page.locator("#error")).to_be_hidden()
    await expect(page.locator(".field-error")).to_have_count(0)
    await _shot(page, artifacts, "23-wrapup")
    await page.wait_for_function(f"() => Number(document.getElementById('wrapup-left').textContent) < {left}")
    await page.click("#lang-toggle")
    await expect(page.locator("#wrapup-title")).to_have_text("Wrap-up time")
    await page.click("#done-back")
    await expect(page.locator("#queue-wrapup")).to_contain_text("s left")
    await page.click("#lang-toggle")
    await expect(page.locator("#queue-wrapup")).to_contain_text("後処理中")
    assert await case_state(client, world, case_id) == "approved"
    assert errors == []
    await context.close()
