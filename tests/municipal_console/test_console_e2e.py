"""The officer console in headless Chromium against a real hub under uvicorn and the counter's real aiortc peer.

Chromium runs in its own network namespace (a veth pair to the test's namespace), the hub and the counter's
peer on the pair's other end; the card proof comes from the virtual card. Screenshots of each screen go to
var/artifacts/console/.
"""

from __future__ import annotations

import asyncio
import re
import time
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from service.accounts.roles import Role
from service.wire.card_profiles import CardGeneration
from tests._seen import assert_clean
from tests.factories import PASSWORD, World
from tests.municipal_console._counter import Counter, counter_call, post_document_still, submit_card_proof
from tests.municipal_console._net import BrowserNet
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WAIT_MS = 15_000
PAGE_ERRORS: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()
"""The page errors `new_page` collects, by page (for `log_in`'s report)."""
RETRY_LOG = Path(__file__).resolve().parents[2] / "var" / "test-reports" / "console-load-retries.log"
# What people read of a case is its 受付番号 (docs/domain.md §B4.1), never its id or a raw ISO timestamp.
REFERENCE = re.compile(r"^\d{5}-\d{4}-\d{3}$")
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
expect.set_options(timeout=WAIT_MS)


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 15.0, what: str = "") -> None:
    """Poll `check` until it holds; AssertionError naming `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def queued_case(driver: CaseDriver, procedure: str = "card_renewal") -> str:
    """A case waiting in tenant A's officer queue."""
    case = await driver.create(procedure)
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    await driver.device(case["id"], "consents", consents=CONSENTS)
    await driver.device(case["id"], "request-verification")
    return str(case["id"])


async def new_page(browser: Browser, hub_url: str) -> tuple[Page, list[str]]:
    """A fresh context (own storage) on the console, and the page errors and CSP violations it reports."""
    context = await browser.new_context(viewport={"width": 1440, "height": 1100}, locale="ja-JP")
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    PAGE_ERRORS[page] = errors
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    await page.goto(f"{hub_url}/console/")
    return page, errors


async def log_in(page: Page, username: str) -> None:
    """Sign in; the button is enabled only once the console's script has taken the form (index.html).

    Once in a full run (2,181 tests) the button was still disabled 15 s after the page had loaded, and the same
    test passed alone. Cause not found yet: what the page loaded and any page error are reported, and the page is
    loaded once more before the test gives up, so that the rest of the walk still runs.
    """
    submit = page.locator("#login-submit")
    for attempt in range(2):
        try:
            await expect(submit).to_be_enabled(timeout=WAIT_MS)
            break
        except AssertionError as exc:
            seen = await _load_report(page)
            if attempt:
                raise AssertionError(f"the console's script never took the sign-in form: {seen}") from exc
            # Kept where the run's reports are (a warning would fail the test: warnings are errors here).
            RETRY_LOG.parent.mkdir(parents=True, exist_ok=True)
            with RETRY_LOG.open("a", encoding="utf-8") as log:
                log.write(f"{time.strftime('%H:%M:%S')} sign-in form not ready, page loaded again: {seen}\n")
            await page.reload()
    await page.fill("#login-username", username)
    await page.fill("#login-password", PASSWORD)
    await submit.click()


async def _load_report(page: Page) -> str:
    """What the page loaded (each resource's name, status and time) and its state, for a failure message."""
    report: object = await page.evaluate(
        """() => ({
            ready: document.readyState,
            url: location.pathname + location.search,
            resources: performance.getEntriesByType("resource").map(
                (e) => `${e.name.split("/").pop()} ${e.responseStatus ?? "?"} ${Math.round(e.duration)}ms`),
        })"""
    )
    return f"{report}; page errors: {PAGE_ERRORS.get(page, [])}"


def _reads_no_ids(text: str, case_id: str) -> None:
    assert case_id not in text, text
    assert "po_" not in text, text
    assert not ISO_TIME.search(text), text


async def take_offer(
    page: Page, artifacts: Path, case_id: str, shot: str | None = None, *, keyboard: bool = False
) -> None:
    """Go available, see the offer with its countdown, accept it (by its access key with `keyboard`)."""
    await page.check("#presence-available")
    await expect(page.locator("#presence-effective")).to_have_text("受付可")
    await expect(page.locator("#offer")).to_be_visible()
    await expect(page.locator("#offer-case")).to_have_text(REFERENCE)
    reference = await page.locator("#offer-case").inner_text()
    offer = await page.locator("#offer").inner_text()
    _reads_no_ids(offer, case_id)
    countdown = int(await page.locator("#offer-countdown").inner_text())
    assert 0 < countdown <= 20
    if shot:
        await page.screenshot(path=artifacts / shot, full_page=True)
    if keyboard:
        assert await _focused(page) == "offer-accept"  # the offer takes the focus when it arrives
        await page.keyboard.press("Alt+a")
    else:
        await page.click("#offer-accept")
    await expect(page.locator("#screen-live")).to_be_visible()
    await expect(page.locator("#live-case")).to_have_text(reference)


async def video_flowing(page: Page) -> dict[str, Any]:
    """Wait for decoded frames in the page's <video>; return its size, time and the decoded-frame count."""
    await expect(page.locator("#conn-state")).to_have_attribute("data-state", "connected")
    await page.wait_for_function(
        "() => { const v = document.getElementById('remote-video'); return v.videoWidth > 0 && v.currentTime > 0; }"
    )
    first: dict[str, Any] = await page.evaluate(
        "() => { const v = document.getElementById('remote-video'); return {t: v.currentTime}; }"
    )
    await page.wait_for_function(
        f"() => document.getElementById('remote-video').currentTime > {first['t']} + 0.3"
        " && Number(document.getElementById('video-stats').dataset.framesDecoded || 0) > 5"
    )
    return dict(
        await page.evaluate(
            "() => { const v = document.getElementById('remote-video');"
            " return {w: v.videoWidth, h: v.videoHeight, t: v.currentTime,"
            " frames: Number(document.getElementById('video-stats').dataset.framesDecoded)}; }"
        )
    )


async def review_of(client: httpx.AsyncClient, world: World, case_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/cases/{case_id}/review", headers=world.h("a", Role.officer))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def case_state(client: httpx.AsyncClient, world: World, case_id: str) -> str:
    response = await client.get(f"/api/v1/cases/{case_id}", headers=world.h("a", Role.officer))
    assert response.status_code == 200, response.text
    return str(response.json()["state"])


async def test_officer_checks_the_card_and_approves_by_keyboard(
    browser: Browser,
    hub_url: str,
    world: World,
    driver: CaseDriver,
    client: httpx.AsyncClient,
    dev_pki_dir: Path,
    artifacts: Path,
    browser_net: BrowserNet,
) -> None:
    case_id = await queued_case(driver)
    page, errors = await new_page(browser, hub_url)
    assert await page.evaluate("document.documentElement.lang") == "ja"
    await expect(page.locator("h1")).to_have_text("窓口ブリッジ 審査コンソール")
    await page.screenshot(path=artifacts / "01-login.png", full_page=True)

    # Seen once or twice in a long run: the console fell back to its login screen right after signing in, without
    # an error on screen (its session-end path). What the hub answered then goes into the failure, to find out why.
    answered: list[str] = []
    page.on("response", lambda r: answered.append(f"{r.status} {r.request.method} {r.url}"))
    page.on("console", lambda m: answered.append(f"console {m.type}: {m.text}"))
    await log_in(page, world.a.usernames[Role.officer])
    try:
        await expect(page.locator("#screen-queue")).to_be_visible()
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nthe console's requests: {answered}\npage errors: {errors}") from None
    await page.screenshot(path=artifacts / "01b-queue.png", full_page=True)
    async with counter_call(world.device_a, case_id) as counter:
        await take_offer(page, artifacts, case_id, shot="02-offer.png")
        video = await video_flowing(page)
        assert (video["w"], video["h"]) == (640, 480)
        assert counter.offers == 1
        assert counter.answers == 1
        # The console reported the video live: continuity starts now, before any evidence.
        await eventually(lambda: _video_live(client, world, case_id), what="video-status live at the hub")

        # The counter reads the card and captures the evidence; the console shows it on its next poll.
        await submit_card_proof(world.device_a, case_id, dev_pki_dir, "yamada_hanako")
        await driver.device(case_id, "capture-evidence")
        await expect(page.locator("#chip-photo")).to_be_visible()
        await expect(page.locator("#attr-list")).to_be_visible()
        await expect(page.locator("#proof-checks tr[data-check=signature] td").first).to_have_text("合格")
        await expect(page.locator("#proof-checks tr[data-check=chain] td").first).to_have_text("合格")
        # The face's own key answered the challenge: it is this card's face (docs/card-face-binding.md).
        await expect(page.locator("#proof-checks tr[data-check=card_face_key] td").first).to_have_text("合格")
        # DF29 is outside the card-face signature: shown as printed and labelled so, never as the verified expiry
        # (the old console showed it bare under 有効期限).
        await expect(page.locator("#attr-expiry")).to_have_text("2034-04-12")
        await expect(page.locator("#attr-expiry-unsigned")).to_contain_text("署名対象外（券面の記載）")
        await expect(page.locator("#attr-expiry-unsigned")).to_have_attribute("data-signed", "false")
        await expect(page.locator("#attr-list dt[data-i18n=expiry_unsigned]")).to_have_text(
            "有効期限（券面の記載）"
        )
        assert "失効" in await page.locator("#proof-revocation").inner_text()
        # Which card was read, as the hub found it from the certificate (docs/card.md §3).
        await expect(page.locator("#proof-generation")).to_have_text("現行カード（2016年〜）")
        await expect(page.locator("#card-swap")).to_have_attribute("data-swap", "none")
        await expect(page.locator("#doc-empty")).to_be_visible()

        await page.click("#grab-still")
        await expect(page.locator("#live-still")).to_be_visible()
        assert await page.evaluate(
            "() => { const c = document.getElementById('live-still');"
            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " let lit = 0; for (let i = 0; i < d.length; i += 4000) lit += d[i] + d[i+1] + d[i+2] > 0 ? 1 : 0;"
            " return c.width === 640 && lit > 10; }"
        ), "the still is not a frame of the counter's video"

        await page.click("#begin-review")
        await expect(page.locator("#live-state")).to_have_attribute("data-state", "officer_review")
        await page.click("#liveness-new")
        await expect(page.locator("#liveness-phrase")).to_contain_text("読み上げてください")
        await page.click("#liveness-passed")
        await expect(page.locator("#liveness-list li")).to_have_count(1)
        await page.check("#checklist input[value=my_number_card_ic]")
        for name in ("face_match", "attributes_match", "eligibility_confirmed", "documents_authentic"):
            await page.check(f"#checklist input[name={name}]")
        await page.click("#checklist-save")
        await expect(page.locator("#review-ready")).to_be_visible()
        await expect(page.locator("#review-missing li")).to_have_count(0)
        await page.screenshot(path=artifacts / "03-live-check.png", full_page=True)

        # The same screen in English: no Japanese left in its chrome (the camera controls, the frame counter and
        # the revocation outcome were once left in Japanese), the applicant's data aside; then back to Japanese.
        await page.click("#lang-toggle")
        await expect(page.locator("#queue-title")).to_have_text("Waiting for cases")
        await expect(page.locator("#video-stats")).to_contain_text("frames decoded")
        await expect(page.locator("#proof-revocation")).to_have_text("revocation not checked")
        await assert_clean(page, "en")
        await page.screenshot(path=artifacts / "03-live-check-en.png", full_page=True)
        await page.click("#lang-toggle")
        await expect(page.locator("#queue-title")).to_have_text("受付待ち")
        await expect(page.locator("#proof-revocation")).to_have_text("失効確認未実施")

        # Keyboard only from here: Tab into the decision, choose approve, attest, send.
        await page.focus("#flag-case")
        await page.keyboard.press("Tab")
        assert await _focused(page) == "decision-approve"
        assert await page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
        await page.keyboard.press("Space")
        await page.keyboard.press("Tab")  # the reason list is disabled for approval: skipped
        assert await _focused(page) == "decision-attest"
        await page.keyboard.press("Space")
        await page.keyboard.press("Tab")
        assert await _focused(page) == "decision-submit"
        await page.screenshot(path=artifacts / "04-decision.png", full_page=True)
        review_writes: list[str] = []
        page.on("request", lambda r: review_writes.append(r.url) if r.url.endswith("/video-status") else None)
        await page.keyboard.press("Enter")
        await expect(page.locator("#screen-done")).to_be_visible()
        await expect(page.locator("#done-state")).to_have_attribute("data-state", "approved")
        # Failed before: closing the call reported the video lost after the decision, and the hub's refusal
        # (review_closed) stood in red next to 「決定を記録しました」.
        assert review_writes == []
        await expect(page.locator("#error")).to_be_hidden()
        assert "review_closed" not in await page.inner_text("body")
        await page.screenshot(path=artifacts / "05-done.png", full_page=True)
    assert await case_state(client, world, case_id) == "approved"

    # English switch, persisted across a reload.
    await page.click("#lang-toggle")
    await expect(page.locator("h1")).to_have_text("Madoguchi Bridge — officer console")
    assert await page.evaluate("document.documentElement.lang") == "en"
    await page.reload()
    await expect(page.locator("#done-back, #presence-legend, #queue-title").first).to_be_attached()
    await expect(page.locator("h1")).to_have_text("Madoguchi Bridge — officer console")
    await expect(page.locator("#queue-title")).to_have_text("Waiting for cases")
    await page.screenshot(path=artifacts / "06-queue-en.png", full_page=True)
    assert errors == []


async def test_supervisor_sees_the_queue_and_officer_rejects(
    browser: Browser,
    hub_url: str,
    world: World,
    driver: CaseDriver,
    client: httpx.AsyncClient,
    artifacts: Path,
) -> None:
    case_id = await queued_case(driver, "card_application")
    reference = (await client.get(f"/api/v1/cases/{case_id}", headers=world.h("a", Role.officer))).json()[
        "reference"
    ]
    supervisor, supervisor_errors = await new_page(browser, hub_url)
    await log_in(supervisor, world.a.usernames[Role.supervisor])
    await expect(supervisor.locator("#screen-supervisor")).to_be_visible()
    row = supervisor.locator(f"#sup-offices tr[data-case='{case_id}']")
    await expect(row).to_be_visible()
    # The supervisor reads the 受付番号, the office's and municipality's names; ids stay in data attributes.
    await expect(row.locator("th")).to_have_text(reference)
    await expect(supervisor.locator("#sup-offices h3")).to_contain_text("甲市郵便局")
    await expect(supervisor.locator("#sup-municipality")).to_have_text("甲市")
    await expect(supervisor.locator("#who")).to_contain_text("甲市")
    shown = await supervisor.locator("#screen-supervisor").inner_text()
    _reads_no_ids(shown, case_id)
    await expect(supervisor.locator("#sup-offices h3")).to_contain_text("（1件）")
    await supervisor.screenshot(path=artifacts / "07-supervisor.png", full_page=True)

    page, errors = await new_page(browser, hub_url)
    await log_in(page, world.a.usernames[Role.officer])
    async with counter_call(world.device_a, case_id):
        await page.check("#presence-available")
        # The offer names the office and the municipality, not their id and code, and the case by its 受付番号.
        await expect(page.locator("#offer-case")).to_have_text(reference)
        await expect(page.locator("#offer-office")).to_have_text("甲市郵便局")
        await expect(page.locator("#offer-municipality")).to_have_text("甲市")
        await take_offer(page, artifacts, case_id, keyboard=True)
        await video_flowing(page)
        # The counter shows the ID document: the still is listed, opened through the audited view, turned in
        # the browser only.
        still = await post_document_still(world.device_a, case_id)
        await driver.device(case_id, "capture-evidence")
        opener = page.locator(f"#doc-list button[data-evidence='{still.json()['id']}']")
        await expect(opener).to_contain_text("書類の表面")
        await opener.click()
        image = page.locator("#doc-stage img")
        await expect(image).to_have_attribute("data-evidence", still.json()["id"])
        await expect(page.locator("#doc-stage")).to_be_focused()
        for key in ("+", "+", "r"):
            await page.keyboard.press(key)
        await expect(image).to_have_attribute("data-rotate", "90")
        assert float(await image.get_attribute("data-zoom") or 0) > 1.5
        assert await image.evaluate("(img) => img.naturalWidth") == 640
        await page.screenshot(path=artifacts / "10-stills.png", full_page=True)
        await page.keyboard.press("0")
        await expect(image).to_have_attribute("data-rotate", "0")
        await page.keyboard.press("Escape")  # the still's overlay closes; the screen is usable again
        await expect(page.locator("#doc-overlay")).to_be_hidden()

        # A note (encrypted at the hub), and a flag: the evidence goes on hold at once.
        await page.fill("#note-text", "書類の写真と本人の顔が違うように見える（合成データ）")
        await page.click("#note-save")
        await expect(page.locator("#notes-list li")).to_have_count(1)
        await expect(page.locator("#notes-list li .note-text")).to_contain_text("合成データ")
        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await page.click("#flag-case")
        await expect(page.locator("#flag-done")).to_be_visible()
        await expect(page.locator("#flag-case")).to_be_disabled()
        flagged = supervisor.locator(f"#sup-flagged tr[data-case='{case_id}']")
        await expect(flagged).to_be_visible(timeout=8000)
        await expect(flagged).to_contain_text("なりすましの疑い")
        await expect(flagged).to_contain_text("試験 officer")
        await expect(supervisor.locator(f"#sup-live tr[data-case='{case_id}']")).to_contain_text("保全中")
        await expect(supervisor.locator("#sup-officers")).to_contain_text("試験 officer")
        await supervisor.screenshot(path=artifacts / "11-supervisor-flagged.png", full_page=True)
        # Both screens in English, the names, the note and the office aside (data-value): no Japanese left.
        for shown_page in (supervisor, page):
            await shown_page.click("#lang-toggle")
            await expect(shown_page.locator("h1")).to_have_text("Madoguchi Bridge — officer console")
            await assert_clean(shown_page, "en")
            await shown_page.click("#lang-toggle")
            await expect(shown_page.locator("h1")).to_have_text("窓口ブリッジ 審査コンソール")
        await page.click("#begin-review")
        await expect(page.locator("#live-state")).to_have_attribute("data-state", "officer_review")

        # Approval without a complete review: 承認 is disabled, and the missing items say why.
        await expect(page.locator("#decision-approve")).to_be_disabled()
        await expect(page.locator("#review-missing li[data-code=liveness_missing]")).to_be_visible()
        # A screen that lagged behind the review (approve still enabled) sends it anyway: the hub refuses, and the
        # console says so in Japanese next to the submit button — before, the hub's English detail and the raw code
        # `review_incomplete` stood in the page's error line.
        await page.evaluate(
            "() => { const a = document.getElementById('decision-approve'); a.disabled = false; a.checked = true;"
            " document.getElementById('decision-attest').checked = true;"
            " document.getElementById('decision').requestSubmit(); }"
        )
        refusal = page.locator("#decision-submit + .field-error")
        await expect(refusal).to_contain_text("審査が完了していないため承認できません")
        await expect(refusal).to_contain_text("有効な本人確認チャレンジ（合格）がありません")
        await expect(refusal).to_have_attribute("data-code", "review_incomplete")
        assert "review_incomplete" not in await page.inner_text("body")
        await expect(page.locator("#error")).to_be_hidden()

        await page.check("#decision-reject")
        await page.select_option("#decision-reason", "suspected_impersonation")
        await page.click("#decision-submit")
        await expect(page.locator("#screen-done")).to_be_visible()
        await expect(page.locator("#done-state")).to_have_attribute("data-state", "rejected")
    assert await case_state(client, world, case_id) == "rejected"
    await expect(row).to_have_count(0, timeout=8000)  # the supervisor's view drops the decided case
    # Every view of the still is an audit row; the note's text is nowhere in the trail.
    events = (
        await client.get(
            "/api/v1/audit/events", params={"case_id": case_id}, headers=world.h("a", Role.auditor)
        )
    ).json()["items"]
    assert ("evidence.viewed", "document_front") in {(e["action"], e["reason_code"]) for e in events}
    assert "review.note_added" in {e["action"] for e in events}
    assert "合成データ" not in str(events)
    # Only the supervisor lifts the hold.
    supervisor.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await flagged.locator("button.hold-release").click()
    await expect(flagged).to_have_count(0)
    assert errors == []
    assert supervisor_errors == []


async def _video_live(client: httpx.AsyncClient, world: World, case_id: str) -> bool:
    return bool((await review_of(client, world, case_id))["video_live"])


async def _focused(page: Page) -> str:
    return str(await page.evaluate("document.activeElement && document.activeElement.id"))


async def test_a_video_drop_pauses_the_check_and_forces_the_redo(
    browser: Browser,
    hub_url: str,
    world: World,
    driver: CaseDriver,
    client: httpx.AsyncClient,
    dev_pki_dir: Path,
    artifacts: Path,
    browser_net: BrowserNet,
) -> None:
    case_id = await queued_case(driver)
    page, errors = await new_page(browser, hub_url)
    await log_in(page, world.a.usernames[Role.officer])
    async with counter_call(world.device_a, case_id) as counter:
        await take_offer(page, artifacts, case_id)
        await video_flowing(page)
        await eventually(lambda: _video_live(client, world, case_id), what="video-status live at the hub")
        # This applicant holds a next-generation card (P-384, two APs): the console names it (docs/card.md §3).
        await submit_card_proof(world.device_a, case_id, dev_pki_dir, "yamada_hanako", CardGeneration.GEN2028)
        await driver.device(case_id, "capture-evidence")
        await expect(page.locator("#begin-review")).to_be_visible()
        await expect(page.locator("#proof-generation")).to_have_text("次期カード（2028年度〜予定）")
        await expect(page.locator("#proof-checks tr[data-check=card_face_key] td").first).to_have_text("合格")
        await page.screenshot(path=artifacts / "07b-next-generation-card.png", full_page=True)
        # Review not begun yet: the hub takes card reads only until then, so the redo below can happen.
        await page.click("#liveness-new")
        await page.click("#liveness-passed")
        await page.check("#checklist input[value=my_number_card_ic]")
        for name in ("face_match", "attributes_match", "eligibility_confirmed", "documents_authentic"):
            await page.check(f"#checklist input[name={name}]")
        await page.click("#checklist-save")
        await expect(page.locator("#review-ready")).to_be_visible()

        # The browser's network goes away: the console pauses the check and asks for a new offer.
        browser_net.set_browser_link(up=False)
        await expect(page.locator("#continuity-banner")).to_be_visible()
        await page.screenshot(path=artifacts / "08-video-dropped.png", full_page=True)
        browser_net.set_browser_link(up=True)

        # Back: video flowing again (ICE recovers by itself or through the new offer the console asked for),
        # and the hub knows of the drop even though the console could not tell it while cut off.
        await expect(page.locator("#continuity-banner")).to_be_hidden(timeout=30_000)
        await video_flowing(page)

        async def drop_recorded() -> bool:
            review = await review_of(client, world, case_id)
            return bool(review["drops"] == 1 and review["video_live"])

        await eventually(drop_recorded, what="the drop and the recovery at the hub")
        review = await review_of(client, world, case_id)
        assert review["redo_required"] is True
        assert set(review["missing"]) == {"liveness_missing", "card_proof_missing"}
        await expect(page.locator("#review-redo")).to_be_visible()
        await page.screenshot(path=artifacts / "09-redo-required.png", full_page=True)

        # Redo the card proof and the liveness challenge; only then does approval go through.
        await submit_card_proof(world.device_a, case_id, dev_pki_dir, "yamada_hanako", CardGeneration.GEN2028)
        await page.click("#liveness-new")
        await page.click("#liveness-passed")
        await expect(page.locator("#review-ready")).to_be_visible()
        await page.click("#begin-review")
        await expect(page.locator("#live-state")).to_have_attribute("data-state", "officer_review")
        await page.check("#decision-approve")
        await page.check("#decision-attest")
        await page.click("#decision-submit")
        await expect(page.locator("#done-state")).to_have_attribute("data-state", "approved")
        # The console asked the counter for a new offer while cut off (TCP delivers it once the link is back).
        await eventually(lambda: _asked(counter), what="renegotiate at the counter")
    assert await case_state(client, world, case_id) == "approved"
    assert errors == []


async def _asked(counter: Counter) -> bool:
    return counter.renegotiations >= 1


async def test_no_video_is_explained_and_the_officer_aborts(
    browser: Browser,
    hub_url: str,
    world: World,
    driver: CaseDriver,
    client: httpx.AsyncClient,
    artifacts: Path,
) -> None:
    """The counter never sends video: the console says why in plain words within seconds, not a silent wait."""
    case_id = await queued_case(driver)
    page, errors = await new_page(browser, hub_url)
    await log_in(page, world.a.usernames[Role.officer])
    await take_offer(page, artifacts, case_id)
    help_box = page.locator("#media-help")
    await expect(help_box).to_be_visible(timeout=25_000)
    await expect(help_box).to_have_attribute("data-cause", "counter")
    await expect(page.locator("#media-help-title")).to_contain_text("窓口の映像が15秒以上届いていません")
    await expect(help_box).to_contain_text("中断")
    await page.screenshot(path=artifacts / "12-no-video.png", full_page=True)
    await page.click("#lang-toggle")
    await expect(page.locator("#media-help-title")).to_contain_text("No picture from the counter")
    await page.click("#lang-toggle")
    # The way out it names: abort for the network; approval is impossible without video.
    await page.check("#decision-abort")
    await page.select_option("#decision-reason", "network")
    await page.check("#decision-attest")
    await page.click("#decision-submit")
    await expect(page.locator("#done-state")).to_have_attribute("data-state", "aborted")
    assert await case_state(client, world, case_id) == "aborted"
    assert errors == []


async def test_rejecting_for_impersonation_holds_the_evidence(
    browser: Browser,
    hub_url: str,
    world: World,
    driver: CaseDriver,
    client: httpx.AsyncClient,
    artifacts: Path,
) -> None:
    """A suspected impersonation is flagged before the rejection: evidence is held (docs/domain.md §B7)."""
    case_id = await queued_case(driver)
    page, errors = await new_page(browser, hub_url)
    await log_in(page, world.a.usernames[Role.officer])
    await take_offer(page, artifacts, case_id)
    await driver.device(case_id, "capture-evidence")
    await page.click("#begin-review")
    await expect(page.locator("#live-state")).to_have_attribute("data-state", "officer_review")
    await page.check("#decision-reject")
    await page.select_option("#decision-reason", "suspected_impersonation")
    await page.check("#decision-attest")
    await page.keyboard.press("Alt+s")
    await expect(page.locator("#done-state")).to_have_attribute("data-state", "rejected")
    overview = (await client.get("/api/v1/queue", headers=world.h("a", Role.supervisor))).json()
    assert [(r["case_id"], r["reason_code"]) for r in overview["flagged"]] == [
        (case_id, "suspected_impersonation")
    ]
    assert errors == []


async def test_the_officer_is_told_of_a_security_change_once(
    browser: Browser, hub_url: str, world: World, client: httpx.AsyncClient, artifacts: Path
) -> None:
    """A reused refresh token ended the officer's sessions: after signing in the console says so, in Japanese with
    a local time, until dismissed; before, the notice sat at GET /auth/notices and no screen showed it."""
    username = world.a.usernames[Role.officer]
    first = (
        await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    ).json()
    await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    page, errors = await new_page(browser, hub_url)
    await log_in(page, username)
    box = page.locator("#notices")
    await expect(box).to_be_visible()
    await expect(box.locator("li[data-kind='sessions_revoked']")).to_contain_text("セッションを終了しました")
    assert "sessions_revoked" not in await box.inner_text()
    assert "T" not in (await box.locator("li").inner_text()).split("—")[0]  # local time, not ISO
    await page.screenshot(path=artifacts / "13-security-notice.png", full_page=True)
    await page.click("#lang-toggle")
    await expect(box.locator("li")).to_contain_text("every session of that sign-in was ended")
    await page.click("#lang-toggle")
    await page.click("#notices-dismiss")
    await expect(box).to_be_hidden()
    await page.reload()
    await expect(page.locator("#screen-queue")).to_be_visible()
    await expect(box).to_be_hidden()  # seen once, not on every visit
    assert errors == []
