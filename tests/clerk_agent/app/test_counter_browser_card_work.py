"""Headless Chromium walks the card work after approval (docs/card-procedures.md) as the clerk and the applicant see it.

A PIN change on the virtual card, typed on the applicant's own screen; a renewal that finds the signing password
locked and resets it in the same visit, both for real over the issuer's channel relayed through the hub (new
certificates on the card verified by the hub, the old ones revoked at the simulator, the applicant's new password
opening the card); a proxy refused with its reason. Each step asserts what a person sees: no error after a step that worked, no raw code or stray English in
Japanese mode, the buttons to press inside the window. Screenshots: var/artifacts/card-procedures/<walk>/.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from clerk_agent.card.protocol import PinKind
from tests._seen import assert_in_viewport, visible_errors
from tests.clerk_agent.app.conftest import Agent, Hub, Officer, agent_running
from tests.clerk_agent.app.test_counter_browser import HOLDER, browser  # noqa: F401
from tests.clerk_agent.app.test_counter_browser_procedures import WAIT, Walk, _begin, _pin, _to_officer
from tests.clerk_agent.app.test_counter_card_work import (
    SLOTS,
    _admin,
    assert_renewed,
    certificates,
    virtual_card,
)

try:
    from playwright.async_api import Browser, Page
except ImportError:  # pragma: no cover - the dev extra is missing (the browser fixture reports it)
    Browser = Page = object  # type: ignore[misc,assignment]

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[3] / "var" / "artifacts" / "card-procedures"
NEW_AUTH_PIN = "9406"  # invented for the test
NEW_SIGN_PASSWORD = "SAKURA2026"  # invented for the test


class CardWalk(Walk):
    """A Walk whose screenshots go to var/artifacts/card-procedures/<name>/."""

    def __init__(self, name: str, clerk: Page, applicant: Page) -> None:
        super().__init__(name, clerk, applicant)
        self.dir = ARTIFACTS / name
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
async def renewing_agent(hub: Hub, tmp_path: Path, agent_pki: Path) -> AsyncIterator[Agent]:
    """The agent whose card is inside the renewal window, the issuer's channel behind the seam (test_counter_card_work.py)."""
    SLOTS.clear()
    async with agent_running(hub, tmp_path / "agent", agent_pki, card_admin=_admin) as running:
        yield running


async def _approved(walk: CardWalk, agent: Agent, officer: Officer, procedure: str) -> str:
    await _begin(walk, agent, procedure)
    case_id = await _to_officer(walk, agent, officer, card=True)
    await _pin(walk)
    await officer.review_and_approve(case_id)
    await walk.clerk.wait_for_selector("#card-work[data-phase='choose']", timeout=WAIT)
    await walk.shot("card-work-choose")
    return case_id


async def _type(applicant: Page, entry: str, value: str) -> None:
    await applicant.click(entry)
    for char in value:
        button = f"#pin-choice button[data-key='{char}']"
        await assert_in_viewport(applicant, button)
        await applicant.click(button)


async def _choose_pin(clerk: Page, pin: str, mode: str, requester: str = "holder") -> None:
    await clerk.check(f"#cw-pin-{pin}")
    await clerk.check(f"#cw-mode-{mode}")
    await clerk.check(f"#cw-requester-{requester}")
    await clerk.click("#cw-pin-submit")


async def _finish(walk: CardWalk, done_codes: list[str]) -> None:
    clerk, applicant = walk.clerk, walk.applicant
    await clerk.wait_for_selector("#card-work[data-phase='done']", timeout=WAIT)
    for code in done_codes:
        await clerk.wait_for_selector(f"#cw-done li[data-code='{code}']")
        await applicant.wait_for_selector(f"#applicant-done li[data-code='{code}']", timeout=WAIT)
    await walk.shot("card-work-done")
    await assert_in_viewport(clerk, "#close")
    await clerk.click("#close")
    await clerk.wait_for_selector("#receipt-link", timeout=WAIT)
    assert "交付通知" in await clerk.inner_text("#receipt-link")
    await walk.shot("receipt")
    # Both screens in English (each page keeps its own switch): no Japanese outside data (tests/_seen.py).
    for page in (clerk, walk.applicant):
        await page.click("#lang")
        await page.wait_for_function("document.documentElement.lang === 'en'")
    assert "notice" in (await clerk.inner_text("#receipt-link")).lower()
    await walk.shot("receipt-en", lang="en")
    for page in (clerk, walk.applicant):  # back to Japanese for the next walk of this browser
        await page.click("#lang")
        await page.wait_for_function("document.documentElement.lang === 'ja'")


async def test_a_pin_change_and_a_refused_proxy_at_the_counter(
    browser: Browser,  # noqa: F811
    hub: Hub,
    agent: Agent,
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    walk = CardWalk("pin-change", await context.new_page(), await context.new_page())
    clerk, applicant = walk.clerk, walk.applicant
    async with httpx.AsyncClient() as officer_http:
        officer = await Officer.login(hub, officer_http)
        case_id = await _approved(walk, agent, officer, "pin_reset")
        # A proxy asking: refused, with the reason in words, and the way on is still there.
        await _choose_pin(clerk, "auth", "reset", "proxy")
        await clerk.wait_for_selector("#notice:not([hidden])", timeout=WAIT)
        told = await clerk.inner_text("#notice")
        assert "代理人" in told
        assert "card_work" not in told
        await walk.shot("proxy-refused", clean=False)
        # The holder, changing the user-authentication PIN.
        await clerk.wait_for_selector("#cw-pin-submit")
        await _choose_pin(clerk, "auth", "change")
        await clerk.wait_for_selector("#cw-pin-entry", timeout=WAIT)
        assert "3" in await clerk.inner_text("#cw-tries")
        await applicant.wait_for_selector("#pin-choice[data-field='current']", timeout=WAIT)
        assert "4桁" in await applicant.inner_text("#pin-choice")
        await walk.shot("pin-entry-current")
        await _type(applicant, "#pc-current", HOLDER.auth_pin)
        await applicant.click("#pc-next")
        await applicant.wait_for_selector("#pin-choice[data-field='new']")
        # A slip in the confirmation is caught on this screen, before the card.
        await _type(applicant, "#pc-new", NEW_AUTH_PIN)
        await _type(applicant, "#pc-new-again", "1111")
        await applicant.click("#pin-choice-send")
        await applicant.wait_for_selector("#pc-error", state="visible")
        assert "違います" in await applicant.inner_text("#pc-error")
        await walk.shot("pin-entry-mismatch", clean=False)
        await _type(applicant, "#pc-new", NEW_AUTH_PIN)
        await _type(applicant, "#pc-new-again", NEW_AUTH_PIN)
        await walk.shot("pin-entry-new", clean=False)  # the slip stays told until the PIN is sent again
        await assert_in_viewport(applicant, "#pin-choice-send")
        await applicant.click("#pin-choice-send")
        await _finish(walk, ["change_auth"])
        assert await officer.state(case_id) == "closed"
    await context.close()
    for html in walk.html:
        assert NEW_AUTH_PIN not in html
        assert HOLDER.auth_pin not in html.replace(HOLDER.code_b, "")


async def test_a_renewal_finds_the_signing_password_locked_and_resets_it_in_the_same_visit(
    browser: Browser,  # noqa: F811
    hub: Hub,
    renewing_agent: Agent,
    agent_pki: Path,
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    walk = CardWalk("renewal-with-reset", await context.new_page(), await context.new_page())
    clerk, applicant = walk.clerk, walk.applicant
    async with httpx.AsyncClient() as officer_http:
        officer = await Officer.login(hub, officer_http)
        case_id = await _approved(walk, renewing_agent, officer, "ecert_issue_renew")
        card = virtual_card(SLOTS[-1])
        before = certificates(card)
        card.key(PinKind.JPKI_SIGN.aid, PinKind.JPKI_SIGN.key_fid).tries_left = 0
        for cert in ("sign", "auth"):
            await clerk.check(f"#cw-cert-{cert}")
        await clerk.check("#cw-requester-holder")
        for question in ("under_15", "adult_ward", "basic4_changed"):
            await clerk.check(f"#cw-{question}-no")
        await walk.shot("ecert-form")
        await assert_in_viewport(clerk, "#cw-ecert-submit")
        await clerk.click("#cw-ecert-submit")
        await clerk.wait_for_selector("#card-work[data-phase='locked']", timeout=WAIT)
        assert "署名用電子証明書のパスワード" in await clerk.inner_text("#cw-locked")
        await walk.shot("locked")
        await clerk.click("#cw-reset-locked")
        await applicant.wait_for_selector("#pin-choice[data-field='new']", timeout=WAIT)
        assert "英大文字" in await applicant.inner_text("#pin-choice")
        await _type(applicant, "#pc-new", NEW_SIGN_PASSWORD)
        await _type(applicant, "#pc-new-again", NEW_SIGN_PASSWORD)
        await walk.shot("reset-entry")
        await assert_in_viewport(applicant, "#pin-choice-send")
        await applicant.click("#pin-choice-send")
        await _finish(walk, ["reset_sign", "renew_sign", "renew_auth"])
        assert not await visible_errors(clerk)
        await assert_renewed(officer, case_id, agent_pki, card, before)
        sign = card.key(PinKind.JPKI_SIGN.aid, PinKind.JPKI_SIGN.key_fid)
        assert (sign.secret, sign.tries_left) == (NEW_SIGN_PASSWORD.encode(), sign.max_tries)
    await context.close()
    for html in walk.html:
        assert NEW_SIGN_PASSWORD not in html
    await assert_clean_done(walk)


async def assert_clean_done(walk: CardWalk) -> None:
    """Every screenshot was taken on both screens."""
    assert len(list(walk.dir.glob("*.png"))) == 2 * walk.count
