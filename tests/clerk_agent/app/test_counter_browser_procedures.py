"""Headless Chromium walks every other counter procedure through the UI, to a scripted officer, with screenshots.

After each case the PIN, the chosen PINs and code B are searched for in every page's HTML, the agent's log
and files, the hub's database rows and logs: none may be found. Screenshots: var/artifacts/counter/<procedure>/.
"""

from __future__ import annotations

import asyncio
import shutil

import httpx
import pytest

from tests._seen import assert_clean, assert_in_viewport, enter_new_pins
from tests.clerk_agent.app.conftest import Agent, Hub, Officer
from tests.clerk_agent.app.test_counter_browser import ARTIFACTS, CHOSEN, HOLDER, browser  # noqa: F401
from tests.clerk_agent.app.test_counter_flow import _assert_no_pin_anywhere

try:
    from playwright.async_api import Browser, Page
except ImportError:  # pragma: no cover - the dev extra is missing (the browser fixture reports it)
    Browser = Page = object  # type: ignore[misc,assignment]

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
DEMO_FORM_ID = "20260401000000000012345"  # what the clerk screen's demo button holds up (clerk.js)
WAIT = 30_000


class Walk:
    """Two pages (clerk, applicant) of one procedure: numbered screenshots, and every page's HTML kept."""

    def __init__(self, procedure: str, clerk: Page, applicant: Page) -> None:
        self.dir = ARTIFACTS / procedure
        shutil.rmtree(self.dir, ignore_errors=True)  # this run's screenshots only
        self.clerk = clerk
        self.applicant = applicant
        self.html: list[str] = []
        self.count = 0

    async def shot(self, name: str, *, clean: bool = True, lang: str = "ja") -> None:
        """Screenshot both screens and keep their HTML for the PIN search; after a step that worked (`clean`),
        both screens show no error, no raw code and no stray English (tests/_seen.py)."""
        if clean:
            await assert_clean(self.clerk, lang)
            # The applicant's screen keeps its own language (its switch is the applicant's): checked in that one.
            await assert_clean(self.applicant, await self.applicant.evaluate("document.documentElement.lang"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.count += 1
        for who, page in (("clerk", self.clerk), ("applicant", self.applicant)):
            await page.screenshot(path=str(self.dir / f"{self.count:02d}-{who}-{name}.png"), full_page=True)
            self.html.append(await page.content())


async def _case_id(agent: Agent) -> str:
    async with httpx.AsyncClient(base_url=agent.base) as ui:
        async with asyncio.timeout(20):
            while True:
                case = (await ui.get("/api/state")).json()["case"]
                if case and case["case_id"]:
                    return str(case["case_id"])
                await asyncio.sleep(0.2)


async def _begin(walk: Walk, agent: Agent, procedure: str) -> None:
    clerk = walk.clerk
    await clerk.goto(f"{agent.base}/")
    await walk.applicant.goto(f"{agent.base}/applicant")
    await clerk.wait_for_selector(f"#start-{procedure}")
    if procedure == "card_application":
        # The form's QR code read with the (synthetic) camera fills the form ID.
        await clerk.click("#demo-show-form")
        await clerk.click("#scan-form-id")
        # Polled with selectors, not page functions: the counter's CSP forbids eval.
        await clerk.wait_for_selector(f"#form-id[value='{DEMO_FORM_ID}']", timeout=WAIT)
    await walk.shot("procedure")
    await clerk.click(f"#start-{procedure}")
    await clerk.wait_for_selector("#eligibility-submit", timeout=WAIT)
    for choice in await clerk.locator("input[data-eligible]").all():
        await choice.check()
    await walk.shot("eligibility")
    await clerk.click("#eligibility-submit")
    await clerk.wait_for_selector("#consents-submit", timeout=WAIT)
    for consent in ("recording", "id_copy", "pin_entry"):
        await clerk.check(f"#c-{consent}")
    await walk.shot("consents")
    await clerk.click("#consents-submit")


async def _to_officer(walk: Walk, agent: Agent, officer: Officer, *, card: bool) -> str:
    clerk = walk.clerk
    if card:
        await clerk.click("#card-check", timeout=WAIT)
        await clerk.wait_for_selector("#request-verification", timeout=WAIT)
        assert "3" in await clerk.inner_text("#pin-retries")
        await walk.shot("card")
    await clerk.click("#request-verification", timeout=WAIT)
    await clerk.wait_for_selector("#queue-position", timeout=WAIT)
    await walk.shot("queue")
    case_id = await _case_id(agent)
    await officer.accept(case_id)
    return case_id


async def _pin(walk: Walk) -> None:
    clerk, applicant = walk.clerk, walk.applicant
    await clerk.wait_for_selector("#code-b", timeout=WAIT)
    await clerk.fill("#code-b", HOLDER.code_b)
    await clerk.click("#code-b-submit")
    await applicant.wait_for_selector("#pin-tries", timeout=WAIT)
    assert "残り3回" in await applicant.inner_text("#pin-tries")
    await walk.shot("pin")
    await assert_in_viewport(applicant, "#pin-send")
    for digit in HOLDER.auth_pin:
        await applicant.click(f"button[data-digit='{digit}']")
    await applicant.click("#pin-send")
    await clerk.wait_for_selector("#evidence-done", timeout=WAIT)
    await walk.shot("evidence-sent")


async def _abort_and_requeue(walk: Walk, officer: Officer, case_id: str) -> None:
    """The officer aborts for picture quality; the clerk reads why and asks for verification again."""
    clerk = walk.clerk
    await officer.abort(case_id, "picture_quality")
    await clerk.wait_for_selector("#abort-reason[data-code='picture_quality']", timeout=WAIT)
    assert "映像が不鮮明" in await clerk.inner_text("#abort-reason")
    await walk.shot("aborted", clean=False)
    await clerk.click("#requeue")
    await clerk.wait_for_selector("#queue-position", timeout=WAIT)
    await officer.accept(case_id)
    await _pin(walk)


async def _photo_and_documents(walk: Walk) -> None:
    clerk, applicant = walk.clerk, walk.applicant
    await clerk.click("#photo-start", timeout=WAIT)
    await clerk.wait_for_selector("#photo-preview", timeout=WAIT)
    await clerk.wait_for_selector("#photo-advice li[data-code]", timeout=WAIT)
    await walk.shot("photo-framing")
    await clerk.click("#photo-take")
    await applicant.wait_for_selector("#photo-approve", timeout=WAIT)
    await walk.shot("photo-review")
    await assert_in_viewport(applicant, "#photo-approve")
    await applicant.click("#photo-approve")
    await clerk.wait_for_selector("#photo-approved", timeout=WAIT)
    await clerk.click("#demo-show-document")
    await clerk.click("#doc-1-front")
    await clerk.wait_for_selector("#doc-1-front:has-text('✓')", timeout=WAIT)
    await clerk.click("#demo-show-document-tilt")
    await clerk.click("#doc-1-tilt")
    await clerk.wait_for_selector("#documents-progress:has-text('送信済み 2枚')", timeout=WAIT)
    await walk.shot("documents")
    await clerk.click("#documents-shown")
    await clerk.wait_for_selector("#evidence-done", timeout=WAIT)


async def _finish(walk: Walk, *, mailed: bool) -> None:
    clerk, applicant = walk.clerk, walk.applicant
    if mailed:
        await applicant.wait_for_selector("#pin-choice[data-field='sign']", timeout=WAIT)
        await walk.shot("choose-pins")
        await enter_new_pins(applicant, CHOSEN)
    else:
        await clerk.wait_for_selector("#close", timeout=WAIT)
        await walk.shot("approved")
        await clerk.click("#close")
    await clerk.wait_for_selector("#receipt-link", timeout=WAIT)
    await walk.shot("receipt")


@pytest.mark.parametrize(
    "procedure", ["pin_reset", "ecert_issue_renew", "card_application", "application_support"]
)
async def test_procedure_through_the_counter_ui(
    procedure: str,
    browser: Browser,  # noqa: F811
    hub: Hub,
    agent: Agent,
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    walk = Walk(procedure, await context.new_page(), await context.new_page())
    foreign: list[str] = []
    for page in (walk.clerk, walk.applicant):
        page.on(
            "request",
            lambda request: foreign.append(request.url) if not request.url.startswith(agent.base) else None,
        )
    async with httpx.AsyncClient() as officer_http:
        officer = await Officer.login(hub, officer_http)
        await _begin(walk, agent, procedure)
        if procedure == "application_support":
            await walk.clerk.wait_for_selector("#complete", timeout=WAIT)
            await walk.shot("support")
            await walk.clerk.click("#complete")
            await walk.clerk.wait_for_selector("#receipt-link", timeout=WAIT)
            await walk.shot("receipt")
            case_id = await _case_id(agent)
            assert await officer.state(case_id) == "closed"
        else:
            card = procedure != "card_application"
            case_id = await _to_officer(walk, agent, officer, card=card)
            if card:
                await _pin(walk)
                if procedure == "pin_reset":
                    await _abort_and_requeue(walk, officer, case_id)
            else:
                await _photo_and_documents(walk)
            await officer.review_and_approve(case_id)
            await _finish(walk, mailed=not card)
            expected = {"closed"} if card else {"pin_request_sealed", "submitted_to_jlis"}
            assert await officer.state(case_id) in expected
        await walk.clerk.click("#lang")
        await walk.clerk.wait_for_function("document.documentElement.lang === 'en'")
        assert "Receipt" in await walk.clerk.inner_text("main")
        await walk.shot("receipt-en", lang="en")
    await context.close()
    assert not foreign  # nothing loaded from anywhere but the agent itself (no CDN)
    assert len(list(walk.dir.glob("*.png"))) == 2 * walk.count
    _assert_no_pin_anywhere(hub, agent, walk.html, case_id)
