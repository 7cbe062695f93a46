"""A person acting the officer in the README's demo: counter UI → queue → console → evidence → decision.

`deploy/demo.py` runs as a user starts it (hub, virtual card, counter app), and headless Chromium plays the clerk,
the applicant and the municipal officer through the printed URLs and logins: a renewal is requested at the counter,
the officer goes available, accepts, sees the chip's face photo, card-face attributes and card proof, runs the
liveness challenge and checklist, and decides; the applicant then chooses the new card's PINs.

Chromium gathers no loopback ICE candidates (docs/live-link.md §9): the counter's video reaches a browser on
127.0.0.1 only when the machine has another interface, as every real office PC has. On a loopback-only machine the
test checks instead that the console says plainly why the video is missing, and the officer aborts for `network`.
A second walk takes a new card application: the counter takes the application photo and an ID document's still,
and the officer opens both through the hub's audited stills view, turns one, writes a note and refers the
applicant to the town-hall counter. Screenshots go to var/artifacts/demo/.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests._chromium import chromium
from tests._seen import assert_clean, enter_new_pins

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "var" / "artifacts" / "demo"
CHOSEN = ("DEMO2026Z", "2468", "1357", "9753")  # the new card's PINs, invented for the walkthrough
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _has_lan_address() -> bool:
    """Whether this host has a non-loopback IPv4 address a browser can gather as an ICE candidate."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, the kernel only picks a source
        return not probe.getsockname()[0].startswith("127.")
    except OSError:
        return False
    finally:
        probe.close()


class Demo:
    """The running demo and what it printed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.hub = self._url(r"^\s*hub\s+(http://\S+)")
        self.counter = self._url(r"^\s*counter \(clerk\)\s+(http://\S+)").rstrip("/")
        self.officer_password = self._url(r"^\s*demo-officer\s+(\S+)")
        self.supervisor_password = self._url(r"^\s*demo-supervisor\s+(\S+)")

    def _url(self, pattern: str) -> str:
        found = re.search(pattern, self.text, re.MULTILINE)
        assert found, f"{pattern!r} not in the demo's output:\n{self.text}"
        return found.group(1)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """`deploy/demo.py` in a temporary directory, stopped by its PID afterwards."""
    env = {**os.environ, "MADOGUCHI_DEMO_DIR": str(tmp_path), "HUB_PORT": "0", "CLERK_UI_PORT": "0"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy" / "demo.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "hub log" in line:
                break
        yield Demo("".join(lines))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        for log in (tmp_path / "agent.log", tmp_path / "hub" / "hub.log"):
            if log.exists():
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                (ARTIFACTS / log.name).write_bytes(log.read_bytes()[-200_000:])


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """The system's headless Chromium in the host's own network (as a person at this machine would use it)."""
    async with chromium("--autoplay-policy=no-user-gesture-required") as launched:
        yield launched


async def _shot(page: Page, name: str) -> None:
    """A screenshot of the page's viewport: a full-page capture resizes the view, which pauses the video's
    frame callbacks long enough for the console to count a frozen picture as a drop."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def test_a_person_acts_the_officer_in_the_demo(demo: Demo, browser: Browser) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    clerk = await context.new_page()
    applicant = await context.new_page()
    officer = await context.new_page()
    await officer.set_viewport_size({"width": 1920, "height": 1080})  # the live check fits one screen
    errors: list[str] = []
    for page in (clerk, applicant, officer):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    lan = _has_lan_address()

    # The officer signs in with the printed demo login and goes available.
    await officer.goto(f"{demo.hub}/console/")
    await officer.fill("#login-username", "demo-officer")
    await officer.fill("#login-password", demo.officer_password)
    await officer.keyboard.press("Enter")
    await officer.wait_for_selector("#presence-available", state="visible")
    await officer.check("#presence-available")
    await officer.wait_for_selector("#presence-effective[data-status='available']")
    await _shot(officer, "01-officer-available")

    # The clerk starts a renewal (a procedure the officer must verify) and connects to the municipality.
    await clerk.goto(f"{demo.counter}/")
    await applicant.goto(f"{demo.counter}/applicant")
    await clerk.wait_for_selector("#start-card_renewal")
    await clerk.fill("#form-id", "12345678901234567890123")
    await clerk.click("#start-card_renewal")
    await clerk.wait_for_selector("#eligibility-submit", timeout=30_000)
    for choice in await clerk.locator("input[data-eligible]").all():
        await choice.check()
    await clerk.click("#eligibility-submit")
    for consent in ("recording", "id_copy", "pin_entry"):
        await clerk.check(f"#c-{consent}")
    await clerk.click("#consents-submit")
    # The card check says what it reads, in a clerk's words.
    assert "暗証番号の残り回数" in await clerk.inner_text("#card-check")
    await clerk.click("#card-check")
    await clerk.click("#request-verification")
    await clerk.wait_for_selector("#queue-position")
    await _shot(clerk, "02-clerk-waiting")

    # The offer reaches the console; the officer accepts by keyboard.
    await officer.wait_for_selector("#offer-accept", state="visible", timeout=30_000)
    assert await officer.inner_text("#offer-procedure") == "カード更新"
    await _shot(officer, "03-officer-offer")
    await officer.keyboard.press("Alt+A")
    await officer.wait_for_selector("#screen-live", state="visible")

    # The counter reads the card as the applicant types the PIN on their own screen.
    await clerk.wait_for_selector("#code-b", timeout=30_000)
    await clerk.fill("#code-b", "60041220344821")  # the invented yamada_hanako's card-face code B
    await clerk.click("#code-b-submit")
    await applicant.wait_for_selector("#pin-tries", timeout=30_000)
    for digit in "4721":
        await applicant.click(f"button[data-digit='{digit}']")
    await applicant.click("#pin-send")
    await clerk.wait_for_selector("#evidence-done", timeout=30_000)

    # Demo: the card's invented person sits in front of the camera; the clerk can seat someone else, so that an
    # officer can practise a face that does not match the chip photo, and seat the cardholder again.
    assert "✓" in await clerk.inner_text("#demo-seat-cardholder")
    await clerk.click("#demo-seat-other")
    await clerk.wait_for_selector("#demo-seat-other:has-text('✓')")
    await clerk.click("#demo-seat-cardholder")
    await clerk.wait_for_selector("#demo-seat-cardholder:has-text('✓')")

    # The officer sees the card evidence: chip photo, card-face attributes, each check of the card proof.
    await officer.wait_for_selector("#chip-photo", state="visible", timeout=30_000)
    await officer.wait_for_selector("#attr-list", state="visible")
    await officer.wait_for_selector("#proof-checks tr[data-check='signature'][data-status='passed']")
    assert await officer.inner_text("#attr-birth") == "1985-04-12"

    if not lan:
        # No interface a browser may use for media: the console says so in plain words instead of waiting.
        await officer.wait_for_selector("#media-help", state="visible", timeout=40_000)
        await _shot(officer, "04-officer-no-video")
        await officer.check("#decision-abort")
        await officer.select_option("#decision-reason", "network")
        await officer.check("#decision-attest")
        await officer.keyboard.press("Alt+S")
        await officer.wait_for_selector("#screen-done", state="visible", timeout=20_000)
        assert await officer.get_attribute("#done-state", "data-state") == "aborted"
        await _shot(officer, "05-officer-aborted")
        assert not errors, errors
        await context.close()
        return

    await officer.wait_for_function(
        "() => Number(document.getElementById('video-stats').dataset.framesDecoded || 0) > 10",
        timeout=40_000,
    )
    await officer.wait_for_selector("#review-video[data-live='true']", timeout=20_000)
    await _shot(officer, "04-officer-evidence")

    # Liveness challenge, checklist, review, approval: keyboard shortcuts where the console offers them.
    await officer.keyboard.press("Alt+L")
    await officer.wait_for_selector("#liveness-current", state="visible")
    await officer.click("#liveness-passed")
    await officer.check("input[name=id_combination][value=my_number_card_ic]")
    for name in ("face_match", "attributes_match", "eligibility_confirmed", "documents_authentic"):
        await officer.check(f"#checklist input[name={name}]")
    await officer.click("#checklist-save")
    await officer.wait_for_selector("#begin-review", state="visible", timeout=20_000)
    await officer.click("#begin-review")
    await officer.wait_for_selector("#review-ready", state="visible", timeout=20_000)
    await officer.check("#decision-approve")
    await officer.check("#decision-attest")
    await _shot(officer, "05-officer-ready")
    await officer.keyboard.press("Alt+S")
    await officer.wait_for_selector("#screen-done:visible, .error:visible", timeout=20_000)
    assert await officer.is_visible("#screen-done"), await officer.inner_text(".error:visible")
    assert await officer.get_attribute("#done-state", "data-state") == "approved"
    await _shot(officer, "06-officer-approved")
    await assert_clean(officer)

    # Back at the counter the applicant chooses the new card's PINs; the case goes on to J-LIS.
    await enter_new_pins(applicant, CHOSEN)
    await clerk.wait_for_selector("#receipt-link", timeout=30_000)
    await _shot(clerk, "07-clerk-receipt")
    await assert_clean(clerk)
    await assert_clean(applicant)
    assert not errors, errors
    await context.close()


async def test_the_officer_sees_the_application_stills_and_refers_to_the_counter(
    demo: Demo, browser: Browser
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    clerk = await context.new_page()
    applicant = await context.new_page()
    officer = await context.new_page()
    await officer.set_viewport_size({"width": 1920, "height": 1080})
    errors: list[str] = []
    for page in (clerk, applicant, officer):
        page.on("pageerror", lambda exc: errors.append(str(exc)))

    await officer.goto(f"{demo.hub}/console/")
    await officer.fill("#login-username", "demo-officer")
    await officer.fill("#login-password", demo.officer_password)
    await officer.keyboard.press("Enter")
    await officer.wait_for_selector("#presence-available", state="visible")
    await officer.check("#presence-available")

    await clerk.goto(f"{demo.counter}/")
    await applicant.goto(f"{demo.counter}/applicant")
    await clerk.wait_for_selector("#start-card_application")
    await clerk.fill("#form-id", "12345678901234567890124")
    await clerk.click("#start-card_application")
    await clerk.wait_for_selector("#eligibility-submit", timeout=30_000)
    for choice in await clerk.locator("input[data-eligible]").all():
        await choice.check()
    await clerk.click("#eligibility-submit")
    for consent in ("recording", "id_copy", "pin_entry"):
        await clerk.check(f"#c-{consent}")
    await clerk.click("#consents-submit")
    await clerk.click("#request-verification")
    await officer.wait_for_selector("#offer-accept", state="visible", timeout=30_000)
    await officer.keyboard.press("Alt+A")
    await officer.wait_for_selector("#screen-live", state="visible")

    # At the counter: the application photo (approved by the applicant), then the ID document's front.
    await clerk.click("#photo-start", timeout=30_000)
    await clerk.click("#photo-take", timeout=30_000)
    await applicant.click("#photo-approve", timeout=30_000)
    await clerk.click("#demo-show-document", timeout=30_000)
    await clerk.click("#doc-1-front")
    await clerk.wait_for_selector("#documents-progress.ok", timeout=30_000)
    await clerk.click("#documents-shown")

    # The officer sees both stills listed, opens the document through the audited view and turns it.
    front = officer.locator("#doc-list button[data-kind='document_front']")
    await front.wait_for(timeout=30_000)
    await officer.wait_for_selector("#doc-list button[data-kind='application_photo']")
    await front.click()
    await officer.wait_for_selector("#doc-stage img[data-kind='document_front']")
    for key in ("+", "r"):
        await officer.keyboard.press(key)
    await officer.wait_for_selector("#doc-stage img[data-rotate='90']")
    await _shot(officer, "11-officer-document-still")
    await officer.keyboard.press("Escape")  # the still's overlay closes
    await officer.wait_for_selector("#doc-overlay", state="hidden")
    await officer.fill("#note-text", "書類の文字がかすれて読めない（合成データ）")
    await officer.click("#note-save")
    await officer.wait_for_selector("#notes-list li")

    # Refer to the town-hall counter (交付時来庁へ切替): a reason code and the attestation — once the console shows
    # what the counter's "documents shown" did to the case, as an officer would see it before deciding.
    await officer.wait_for_selector("#live-state[data-state='evidence_captured']", timeout=20_000)
    await officer.check("#decision-refer")
    await officer.select_option("#decision-reason", "document_unreadable")
    await officer.check("#decision-attest")
    await officer.keyboard.press("Alt+S")
    await officer.wait_for_selector("#screen-done:visible, .error:visible", timeout=20_000)
    assert await officer.is_visible("#screen-done"), await officer.inner_text(".error:visible")
    assert await officer.get_attribute("#done-state", "data-state") == "referred_to_counter"
    await assert_clean(officer)
    # The clerk can tell the applicant why and where to go (the officer's note stays with the municipality).
    await clerk.wait_for_selector("#decision-reason[data-code='document_unreadable']", timeout=20_000)
    assert "窓口" in await clerk.inner_text("#decision-reason")
    assert "かすれて" not in await clerk.inner_text("body")
    await _shot(officer, "12-officer-referred")
    await clerk.wait_for_selector("#new-case", timeout=30_000)
    # The result matches the outcome: no mailed card is promised after a referral (it was, before), no error.
    next_steps = await clerk.inner_text("#next-steps")
    assert "届きます" not in next_steps
    assert "市区町村の窓口" in next_steps
    assert await clerk.locator("#notice").is_hidden()
    await assert_clean(clerk)
    await _shot(clerk, "13-clerk-referred")
    assert not errors, errors
    await context.close()
