"""Headless Chromium at the counter with the applicant's ID document on a real PC/SC reader (pcscd + vpcd).

A first-time application (交付申請受付) reaches the live call; the clerk says which document the applicant brought.
A residence card: the clerk types its number (a mistyped shape is told before anything is sent) and the verified
read reaches the hub. An IC driving licence: the applicant types 暗証番号1 and 2 on their own screen, sees the
tries left in words after a wrong PIN (Japanese, then once in English, where the last try asks for a tick), and
the verified read reaches the hub. Afterwards neither the card number nor a PIN is in any page, agent log or file,
hub row or hub log. Screenshots: var/artifacts/counter/idchips/.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from clerk_agent.card.virtual.idchips.jp_people import LICENCE_HOLDERS, RESIDENCE_HOLDERS
from clerk_agent.card.virtual.idchips.jp_pki import signer_from_dev_pki
from clerk_agent.card.virtual.idchips.licence import build_virtual_licence
from clerk_agent.card.virtual.idchips.residence import build_virtual_residence_card
from clerk_agent.card.virtual.pcscd import VpcdSlot
from clerk_agent.card.virtual.vicc import ViccClient
from tests._seen import ENGLISH_SENTENCE, RAW_CODE, assert_clean, assert_in_sight, assert_in_viewport
from tests.clerk_agent.app.conftest import Hub, Officer, agent_running
from tests.clerk_agent.app.test_counter_browser import ARTIFACTS, browser  # noqa: F401
from tests.clerk_agent.app.test_counter_flow import _as_token, _sqlite_text
from tests.plugins.pcsc_slot import plug, unplug

try:
    from playwright.async_api import Browser, Page
except ImportError:  # pragma: no cover - the dev extra is missing (the browser fixture reports it)
    Browser = Page = object  # type: ignore[misc,assignment]

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.pcsc]
SHOTS = ARTIFACTS / "idchips"
SATO = LICENCE_HOLDERS["sato_ichiro"]
LAN = RESIDENCE_HOLDERS["nguyen_lan"]
DEMO_FORM_ID = "20260401000000000012345"  # what the clerk screen's demo button holds up (clerk.js)
WAIT = 30_000


class Screens:
    """The clerk's and the applicant's pages: numbered screenshots, and every page's HTML kept for the leak search."""

    def __init__(self, clerk: Page, applicant: Page, prefix: str = "") -> None:
        # Only this test's own earlier shots go: another test's (another prefix) share the folder.
        for old in SHOTS.glob(f"{prefix}[0-9][0-9]-*.png"):
            old.unlink()
        self.prefix = prefix
        self.clerk = clerk
        self.applicant = applicant
        self.html: list[str] = []
        self.count = 0

    async def shot(self, name: str) -> None:
        """Both screens as they are now."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.count += 1
        for who, page in (("clerk", self.clerk), ("applicant", self.applicant)):
            path = SHOTS / f"{self.prefix}{self.count:02d}-{who}-{name}.png"
            await page.screenshot(path=str(path), full_page=True)
            self.html.append(await page.content())


async def _told(page: Page, selector: str, lang: str = "ja") -> str:
    """The visible words of a message that is meant to be there (an error, on purpose): no raw code, the page's
    language only."""
    await page.wait_for_selector(selector, state="visible", timeout=WAIT)
    text = await page.inner_text(selector)
    assert not RAW_CODE.search(text), text
    if lang == "ja":
        assert not ENGLISH_SENTENCE.search(text), text
    return text


async def _case_id(base: str) -> str:
    async with httpx.AsyncClient(base_url=base) as ui:
        async with asyncio.timeout(20):
            while True:
                case = (await ui.get("/api/state")).json()["case"]
                if case and case["case_id"]:
                    return str(case["case_id"])
                await asyncio.sleep(0.2)


async def _chip_documents(officer: Officer, case_id: str) -> list[dict[str, object]]:
    """The case's chip evidence as the hub recorded it (the officer's list)."""
    listed = (await officer.client.get(f"/api/v1/cases/{case_id}/evidence")).json()
    return [item["summary"] for item in listed["items"] if item["kind"] == "chip_document"]


async def _to_the_call(screens: Screens, base: str, officer: Officer) -> str:
    clerk = screens.clerk
    await clerk.goto(f"{base}/")
    await screens.applicant.goto(f"{base}/applicant")
    await clerk.wait_for_selector("#start-card_application")
    await clerk.click("#demo-show-form")
    await clerk.click("#scan-form-id")
    await clerk.wait_for_selector(f"#form-id[value='{DEMO_FORM_ID}']", timeout=WAIT)
    await clerk.click("#start-card_application")
    await clerk.wait_for_selector("#eligibility-submit", timeout=WAIT)
    for choice in await clerk.locator("input[data-eligible]").all():
        await choice.check()
    await clerk.click("#eligibility-submit")
    await clerk.wait_for_selector("#consents-submit", timeout=WAIT)
    for consent in ("recording", "id_copy", "pin_entry"):
        await clerk.check(f"#c-{consent}")
    await clerk.click("#consents-submit")
    await clerk.click("#request-verification", timeout=WAIT)
    case_id = await _case_id(base)
    await officer.accept(case_id)
    await clerk.wait_for_selector("#chip-documents", timeout=WAIT)
    return case_id


async def assert_call_actions_in_sight(page: Page) -> None:
    """The call's way on and way out are on screen without scrolling, however long the steps above them."""
    for control in ("#documents-shown", "#abort-call"):
        await assert_in_sight(page, control)


async def _residence_card(screens: Screens, officer: Officer, case_id: str) -> None:
    clerk = screens.clerk
    await assert_in_viewport(clerk, "#chip-doc-residence_card")
    await assert_call_actions_in_sight(clerk)
    await assert_clean(clerk)
    await screens.shot("choose-document")
    await clerk.click("#chip-doc-residence_card")
    await clerk.wait_for_selector("#chip-card-number", timeout=WAIT)
    for control in ("#chip-card-number", "#chip-ocr-residence_card", "#chip-read-residence", "#chip-change"):
        await assert_in_sight(clerk, control)
    await assert_call_actions_in_sight(clerk)
    # A number of the wrong shape is told beside the field; nothing goes to the card.
    await clerk.fill("#chip-card-number", LAN.card_number[:-1])
    await clerk.click("#chip-read-residence")
    told = await _told(clerk, "#chip-note")
    assert "12文字" in told, told
    for control in ("#chip-card-number", "#chip-read-residence"):
        await assert_in_sight(clerk, control)
    await screens.shot("residence-number-shape")
    # Typed as a person might (lower case, a space): the screen normalises it, reads, empties the field.
    await clerk.fill("#chip-card-number", f"{LAN.card_number[:6].lower()} {LAN.card_number[6:]}")
    await clerk.click("#chip-read-residence")
    await clerk.wait_for_selector("#chip-result[data-verdict=verified]", timeout=WAIT)
    assert await clerk.input_value("#chip-card-number") == ""
    result = await clerk.inner_text("#chip-result")
    assert "確認しました" in result, result
    assert LAN.card_number not in await clerk.inner_text("body")
    assert LAN.card_number[-3:] in result  # masked to its last three characters
    await assert_clean(clerk)  # the shape note is gone after the read worked
    await screens.shot("residence-verified")
    await assert_call_actions_in_sight(clerk)
    (summary,) = await _chip_documents(officer, case_id)
    assert summary["document_kind"] == "residence_card"
    assert summary["verdict"] == "verified", summary


async def _wrong_pin(applicant: Page, pin1: str, pin2: str) -> None:
    await applicant.fill("#licence-pin1", pin1)
    await applicant.fill("#licence-pin2", pin2)
    await applicant.click("#licence-send")
    await applicant.wait_for_selector("#licence-result", timeout=WAIT)
    await applicant.wait_for_selector("#licence-pin1", timeout=WAIT)  # the tries read again, the form back


async def _licence(screens: Screens, officer: Officer, case_id: str) -> None:
    clerk, applicant = screens.clerk, screens.applicant
    await clerk.click("#chip-change")
    await clerk.click("#chip-doc-driving_licence", timeout=WAIT)
    await clerk.wait_for_selector("#chip-licence-waiting", timeout=WAIT)
    await assert_clean(clerk)
    await applicant.wait_for_selector("#licence-pin1", timeout=WAIT)
    assert "暗証番号1: 残り3回" in await applicant.inner_text("#licence-tries")
    for control in ("#licence-pin1", "#licence-pin2", "#licence-send", "#licence-clear", "#licence-decline"):
        await assert_in_sight(applicant, control)
    await assert_in_viewport(applicant, ".licence-privacy")  # read before typing, so in sight too
    for entry in ("#licence-pin1", "#licence-pin2"):
        attributes = await applicant.eval_on_selector(
            entry, "e => [e.type, e.inputMode, e.getAttribute('autocomplete'), e.maxLength]"
        )
        assert attributes == ["password", "numeric", "off", 4], attributes
    await assert_clean(applicant)
    await screens.shot("licence-pins")
    # Three digits: told here, no try spent.
    await applicant.fill("#licence-pin1", SATO.pin1[:3])
    await applicant.fill("#licence-pin2", SATO.pin2)
    await applicant.click("#licence-send")
    assert "数字4桁" in await _told(applicant, "#licence-note")
    assert await applicant.input_value("#licence-pin2") == ""
    assert "暗証番号1: 残り3回" in await applicant.inner_text("#licence-tries")
    # A wrong PIN 1: which one, and its tries left, in Japanese words.
    await _wrong_pin(applicant, "0000", SATO.pin2)
    told = await _told(applicant, "#licence-result")
    assert "暗証番号1が違います" in told, told
    assert "残りは2回" in told, told
    assert "暗証番号1: 残り2回" in await applicant.inner_text("#licence-tries")
    assert await applicant.input_value("#licence-pin1") == ""
    assert await applicant.input_value("#licence-pin2") == ""
    await screens.shot("licence-wrong-pin")
    assert "暗証番号1が違います" in await _told(clerk, "#chip-result")  # the clerk knows why, not the PIN
    # Once in English: the second wrong PIN 1 leaves the last try, which asks for a tick first.
    await applicant.click("#lang")
    await applicant.wait_for_function("document.documentElement.lang === 'en'")
    await _wrong_pin(applicant, "1111", SATO.pin2)
    told = await _told(applicant, "#licence-result", "en")
    assert "PIN 1 is wrong" in told, told
    assert "1 try left" in told, told
    await applicant.wait_for_selector("#licence-last-try", timeout=WAIT)
    await applicant.fill("#licence-pin1", SATO.pin1)
    await applicant.fill("#licence-pin2", SATO.pin2)
    await applicant.click("#licence-send")
    assert "tick the box" in await _told(applicant, "#licence-note", "en")
    # The page at its longest (the wrong PIN told, the note, the tick box): all that is acted on is in sight.
    for control in (
        "#licence-last-try",
        "#licence-pin1",
        "#licence-pin2",
        "#licence-send",
        "#licence-decline",
    ):
        await assert_in_sight(applicant, control)
    await assert_in_viewport(applicant, ".licence-privacy")
    await screens.shot("licence-last-try-en")
    await applicant.check("#licence-last-try")
    await applicant.fill("#licence-pin1", SATO.pin1)
    await applicant.fill("#licence-pin2", SATO.pin2)
    await assert_in_viewport(applicant, "#licence-send")
    await applicant.click("#licence-send")
    await applicant.wait_for_selector("#licence-done", timeout=WAIT)
    assert "verified" in await applicant.inner_text("#licence-done")
    await assert_clean(applicant, "en")
    await clerk.wait_for_selector("#chip-result[data-verdict=verified]", timeout=WAIT)
    await screens.shot("licence-verified-en")
    await applicant.click("#lang")
    await applicant.wait_for_function("document.documentElement.lang === 'ja'")
    await applicant.wait_for_selector("#licence-done:has-text('確認しました')", timeout=WAIT)
    await assert_clean(applicant)
    await clerk.reload()
    await clerk.wait_for_selector("#chip-result[data-verdict=verified]", timeout=WAIT)
    await assert_clean(clerk)
    await assert_call_actions_in_sight(clerk)
    await screens.shot("licence-verified")
    kinds = [(s["document_kind"], s["verdict"]) for s in await _chip_documents(officer, case_id)]
    assert kinds == [("residence_card", "verified"), ("driving_licence", "verified")]


def _assert_no_access_data_anywhere(hub: Hub, agent_dir: Path, logs: list[str], pages: list[str]) -> None:
    """The card number and the licence PINs are in no page, agent log or file, hub row or hub log."""
    tokens = [_as_token(secret) for secret in (SATO.pin1, SATO.pin2)]

    def leaked(text: str) -> bool:
        return LAN.card_number in text.upper() or any(token.search(text) for token in tokens)

    assert not [page for page in pages if leaked(page)]
    assert not [line for line in logs if leaked(line)]
    for path in agent_dir.rglob("*"):
        if path.is_file():
            text = _sqlite_text(path) if path.suffix == ".sqlite3" else path.read_bytes().decode("latin-1")
            assert not leaked(text), path
    hub_db = Path(hub.env["HUB_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///"))
    if hub_db.exists():
        assert not leaked(_sqlite_text(hub_db))
    for log in hub.log:
        assert not leaked(log.read_text(errors="replace"))


async def test_a_residence_card_and_a_licence_are_read_at_the_counter(
    browser: Browser,  # noqa: F811
    hub: Hub,
    tmp_path: Path,
    agent_pki: Path,
    vpcd_slot: VpcdSlot,
    insert: list[ViccClient],
) -> None:
    residence = build_virtual_residence_card(LAN.key, signer=signer_from_dev_pki(agent_pki, "residence_card"))
    licence = build_virtual_licence(SATO.key, signer=signer_from_dev_pki(agent_pki, "driving_licence"))
    on_reader = await asyncio.to_thread(plug, insert, residence, vpcd_slot)
    async with (
        agent_running(hub, tmp_path / "agent", agent_pki, document_reader=vpcd_slot.reader) as agent,
        httpx.AsyncClient() as officer_http,
    ):
        officer = await Officer.login(hub, officer_http)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        screens = Screens(await context.new_page(), await context.new_page())
        case_id = await _to_the_call(screens, agent.base, officer)
        await _residence_card(screens, officer, case_id)
        # The clerk lifts the residence card and lays the licence on the reader.
        await asyncio.to_thread(unplug, on_reader, vpcd_slot)
        insert.remove(on_reader)
        await asyncio.to_thread(plug, insert, licence, vpcd_slot)
        await _licence(screens, officer, case_id)
        await context.close()
        _assert_no_access_data_anywhere(hub, agent.data_dir, agent.log_records, screens.html)
    # The PINs reached the licence only inside their VERIFY commands.
    carrying = [a for a in licence.apdu_log if SATO.pin1.encode() in a or SATO.pin2.encode() in a]
    assert {a[:2] for a in carrying} == {bytes.fromhex("0020")}
