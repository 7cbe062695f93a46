"""The officer console in headless Chromium ↔ the clerk agent's real call loop (`run_call`), through the hub.

Not the stand-in of tests/municipal_console/_counter.py: the agent's own `run_call` sends its synthetic camera
and tone and plays (counts) the officer's voice. Chromium has a fake microphone (fake UI grants it; the hub's
plain-http veth origin is whitelisted as secure, since getUserMedia needs a secure context). Frames are
decoded in both directions, and both sides' connection metrics land on the case.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from clerk_agent.flows.call import CallStatus, run_call
from clerk_agent.rtc.sinks import RecorderSink
from service.accounts.roles import Role
from service.config import Settings
from tests._chromium import CHROMIUM
from tests.factories import PASSWORD, World
from tests.municipal_console._net import BrowserNet, chromium_in
from tests.municipal_console.conftest import CHROMIUM_ARGS
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WAIT_MS = 15_000
expect.set_options(timeout=WAIT_MS)


@pytest.fixture
async def speaking_browser(
    browser_net: BrowserNet, tmp_path: Path, settings: Settings
) -> AsyncIterator[Browser]:
    """Chromium in the namespace with a fake microphone that fake UI grants, on a secure-treated hub origin."""
    launcher = chromium_in(browser_net.namespace, tmp_path, str(CHROMIUM))
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--unsafely-treat-insecure-origin-as-secure={settings.origin}",
    ]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(launcher), headless=True, args=args)
        try:
            yield browser
        finally:
            with contextlib.suppress(Exception):
                await browser.close()


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 15.0, what: str = "") -> None:
    """Poll `check` until it holds; AssertionError naming `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _queued_case(driver: CaseDriver) -> str:
    case = await driver.create("card_renewal")
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    await driver.device(case["id"], "consents", consents=CONSENTS)
    await driver.device(case["id"], "request-verification")
    return str(case["id"])


async def _accept_offer(page: Page, officer: str, case_id: str) -> None:
    await page.fill("#login-username", officer)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await expect(page.locator("#screen-queue")).to_be_visible()
    await page.check("#presence-available")
    # The officer reads the 受付番号 (docs/domain.md §B4.1); the id stays in URLs.
    await expect(page.locator("#offer-case")).to_have_text(re.compile(r"^\d{5}-\d{4}-\d{3}$"))
    assert case_id not in await page.locator("#offer").inner_text()
    await page.click("#offer-accept")
    await expect(page.locator("#screen-live")).to_be_visible()


async def _media(page: Page) -> dict[str, Any]:
    return dict(
        await page.evaluate(
            "() => { const d = document.getElementById('remote-video').dataset;"
            " return {mic: d.mic, frames: Number(d.framesDecoded || 0), samples: Number(d.audioSamples || 0),"
            " energy: Number(d.audioEnergy || 0), micPackets: Number(d.micPackets || 0)}; }"
        )
    )


async def test_console_and_the_real_agent_exchange_video_and_voice(
    speaking_browser: Browser,
    hub_url: str,
    world: World,
    driver: CaseDriver,
    client: httpx.AsyncClient,
) -> None:
    case_id = await _queued_case(driver)
    status, heard = CallStatus(), RecorderSink()
    # The counter joins the room while the case waits, as the agent does once the officer accepts.
    agent = asyncio.create_task(run_call(world.device_a, case_id, status, sink=heard), name="real-agent")
    context = await speaking_browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await page.goto(f"{hub_url}/console/")
        await _accept_offer(page, world.a.usernames[Role.officer], case_id)
        await expect(page.locator("#conn-state")).to_have_attribute("data-state", "connected")

        # Browser side (getStats): the counter's video decoded, its tone heard with energy, the mic sending.
        media: dict[str, Any] = {}

        async def flowing() -> bool:
            media.update(await _media(page))
            return bool(
                media["frames"] > 5
                and media["samples"] > 0
                and media["energy"] > 0
                and media["micPackets"] > 0
            )

        await eventually(flowing, what="media both ways in the browser")
        assert media["mic"] == "live"
        size = await page.evaluate(
            "() => { const v = document.getElementById('remote-video'); return [v.videoWidth, v.videoHeight]; }"
        )
        assert size == [640, 480]

        # Agent side: the officer's (fake) microphone reaches the counter's sink as decoded audio.
        async def agent_hears() -> bool:
            return status.officer_audio_frames > 10 and status.officer_audio and bool(heard.audio)

        await eventually(agent_hears, what="the officer's voice at the counter")
        assert status.phase == "connected"
        # The officer's (fake) camera, on by default, reaches the counter for the applicant's screen.
        assert heard.frames["video"] > 0

        # Both sides reported how they connected, over host candidates on the veth pair.
        reports: dict[str, dict[str, Any]] = {}

        async def both_reported() -> bool:
            response = await client.get(
                f"/api/v1/cases/{case_id}/connection-metrics", headers=world.h("a", Role.officer)
            )
            reports.update({item["side"]: item for item in response.json()["items"]})
            return set(reports) == {"clerk", "officer"}

        await eventually(both_reported, what="connection metrics of both sides")
        clerk, officer = reports["clerk"], reports["officer"]
        assert (clerk["role"], officer["role"]) == ("offerer", "answerer")
        assert clerk["candidate_pair"] == officer["candidate_pair"] == "host"
        assert clerk["first_audio_ms"] is not None
        assert officer["first_frame_ms"] is not None
        assert officer["dtls_ms"] is not None
        assert not errors, errors
    finally:
        agent.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await agent
        await context.close()


async def test_without_a_microphone_the_console_stays_receive_only(
    browser: Browser,
    hub_url: str,
    world: World,
    driver: CaseDriver,
) -> None:
    case_id = await _queued_case(driver)
    status = CallStatus()
    agent = asyncio.create_task(run_call(world.device_a, case_id, status), name="real-agent")
    # The default browser fixture: no fake devices, no fake UI, and a plain-http origin (no secure context).
    context = await browser.new_context(locale="ja-JP")
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        await page.goto(f"{hub_url}/console/")
        await _accept_offer(page, world.a.usernames[Role.officer], case_id)
        await expect(page.locator("#conn-state")).to_have_attribute("data-state", "connected")
        await expect(page.locator("#remote-video")).not_to_have_attribute("data-mic", "pending")
        media: dict[str, Any] = {}

        async def video_only() -> bool:
            media.update(await _media(page))
            return bool(media["frames"] > 5 and media["samples"] > 0)

        await eventually(video_only, what="the counter's media in the browser")
        assert media["mic"] in {"unsupported", "denied", "absent"}
        assert media["micPackets"] == 0
        await asyncio.sleep(0.5)
        assert status.officer_audio_frames == 0
        assert status.phase == "connected"
    finally:
        agent.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await agent
        await context.close()
