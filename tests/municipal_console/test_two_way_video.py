"""Two-way video: the officer's camera, from the console in headless Chromium, on the counter's applicant screen.

The console (fake camera and microphone, granted by fake UI) answers the real agent's `run_call` through the
hub. The agent relays the officer's decoded frames to its local applicant page (clerk_agent/ui/officer.py),
which a second Chromium — on the counter PC's own loopback, outside the officer's network namespace — shows
at 1024×768 with the officer's name and municipality as the hub names them. When the officer turns the camera
off in the console, the applicant sees the name card without a picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Page, ViewportSize, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from clerk_agent.flows.call import CallStatus, run_call
from clerk_agent.photo.camera import SceneCamera
from clerk_agent.rtc.sinks import RecorderSink
from clerk_agent.ui.officer import officer_routes
from clerk_agent.ui.server import SESSION_COOKIE, STATIC
from service.accounts.roles import Role
from tests._chromium import chromium
from tests._procs import free_port
from tests._seen import assert_clean
from tests._uvicorn import served
from tests.factories import World
from tests.municipal_console.conftest import CONSOLE_FLAGS
from tests.municipal_console.test_console_real_agent import (
    WAIT_MS,
    _accept_offer,
    _queued_case,
    eventually,
    speaking_browser,  # noqa: F401 - the fixture, shared
)
from tests.service.conftest import CaseDriver

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SCREEN: ViewportSize = {"width": 1024, "height": 768}


@contextlib.asynccontextmanager
async def applicant_screen(status: CallStatus) -> AsyncIterator[str]:
    """The agent's applicant page and its officer routes on 127.0.0.1, reading `status` (the call's)."""
    template = (STATIC / "applicant.html").read_text(encoding="utf-8")

    async def page(request: Request) -> Response:
        del request
        response = HTMLResponse(template.replace("__CSRF_TOKEN__", secrets.token_hex(16)))
        response.set_cookie(SESSION_COOKIE, secrets.token_urlsafe(16), httponly=True, samesite="strict")
        return response

    camera = SceneCamera()
    app = Starlette(
        routes=[
            Route("/applicant", page),
            *officer_routes(lambda: status, lambda: camera, SESSION_COOKIE),
            Mount("/static", StaticFiles(directory=STATIC)),
        ]
    )
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    async with served(config, name="applicant-screen"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def counter_browser() -> AsyncIterator[Browser]:
    """Chromium on the counter PC's own loopback (the applicant's screen), not in the officer's namespace."""
    async with chromium(*CONSOLE_FLAGS) as browser:
        yield browser


async def _shot(page: Page, name: str, tmp_path: Path, artifacts: Path) -> None:
    for folder in (tmp_path, artifacts):
        await page.screenshot(path=str(folder / f"{name}.png"))


async def _officer_video(page: Page) -> dict[str, object]:
    return dict(
        await page.evaluate(
            "() => { const v = document.getElementById('officer-video');"
            " return {width: v.videoWidth, height: v.videoHeight, paused: v.paused, hidden: v.hidden}; }"
        )
    )


async def test_the_applicant_sees_the_officer_and_a_name_card_when_the_camera_is_off(
    speaking_browser: Browser,  # noqa: F811 - the fixture imported above
    counter_browser: Browser,
    hub_url: str,
    world: World,
    driver: CaseDriver,
    client: httpx.AsyncClient,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    case_id = await _queued_case(driver)
    status, heard = CallStatus(), RecorderSink()
    agent = asyncio.create_task(run_call(world.device_a, case_id, status, sink=heard), name="real-agent")
    console_context = await speaking_browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="ja-JP"
    )
    console = await console_context.new_page()
    console.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    console.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        async with applicant_screen(status) as counter_ui:
            screen_context = await counter_browser.new_context(viewport=SCREEN, locale="ja-JP")
            applicant = await screen_context.new_page()
            applicant.set_default_timeout(WAIT_MS)
            applicant.on("pageerror", lambda exc: errors.append(str(exc)))
            await applicant.goto(f"{counter_ui}/applicant")
            # No call yet: no officer on the applicant's screen.
            await expect(applicant.locator("#officer")).to_have_attribute("data-present", "false")

            await console.goto(f"{hub_url}/console/")
            await _accept_offer(console, world.a.usernames[Role.officer], case_id)
            await expect(console.locator("#conn-state")).to_have_attribute("data-state", "connected")
            await expect(console.locator("#remote-video")).to_have_attribute("data-cam", "live")
            await expect(console.locator("#self-view")).to_be_visible()

            # The officer's picture reaches the counter and plays on the applicant's screen.
            await eventually(lambda: _frames(heard), what="the officer's camera at the counter")
            panel = applicant.locator("#officer")
            await expect(panel).to_have_attribute("data-video", "on")
            video: dict[str, object] = {}

            async def playing() -> bool:
                video.update(await _officer_video(applicant))
                return bool(video["width"]) and not video["paused"] and not video["hidden"]

            await eventually(playing, what="the officer's video playing on the applicant's screen")
            assert (video["width"], video["height"]) == (640, 480)
            # The name and municipality are the hub's, as it names the officer who accepted the case.
            named = await client.get(f"/api/v1/cases/{case_id}/officer", headers=world.h("a", Role.officer))
            assert named.json()["display_name"] == "試験 officer"
            assert named.json()["municipality_name"] == "甲市"
            await expect(applicant.locator("#officer-name")).to_have_text("試験 officer")
            await expect(applicant.locator("#officer-municipality")).to_have_text("甲市")
            box = await applicant.locator("#officer").bounding_box()
            assert box is not None
            assert box["y"] + box["height"] <= SCREEN["height"]
            await _shot(applicant, "two-way-applicant-officer-video", tmp_path, artifacts)
            await _shot(console, "two-way-console-self-view", tmp_path, artifacts)

            # The officer turns the camera off: the camera is released, the applicant sees the name card.
            await console.click("#camera-toggle")
            await expect(console.locator("#remote-video")).to_have_attribute("data-cam", "off")
            await expect(console.locator("#self-view")).to_be_hidden()
            await expect(panel).to_have_attribute("data-video", "off")
            await expect(applicant.locator("#officer-nophoto")).to_be_visible()
            await expect(applicant.locator("#officer-video")).to_be_hidden()
            await expect(applicant.locator("#officer-name")).to_have_text("試験 officer")
            await _shot(applicant, "two-way-applicant-name-card", tmp_path, artifacts)
            # The camera's words follow the language switch mid-call (they stayed Japanese in English mode once).
            await console.click("#lang-toggle")
            await expect(console.locator("#camera-toggle")).to_have_text("Show my camera to the applicant")
            await expect(console.locator("#camera-state")).to_have_text(
                "Camera off (the applicant sees your name only)"
            )
            await expect(console.locator("#self-view")).to_have_attribute(
                "aria-label", re.compile("^Your camera")
            )
            await assert_clean(console, "en")
            await console.click("#lang-toggle")
            await expect(console.locator("#camera-toggle")).to_have_text("お客さまにカメラを映す")

            # And on again, without a new offer.
            offers = status.offers
            await console.click("#camera-toggle")
            await expect(panel).to_have_attribute("data-video", "on")
            assert status.offers == offers
            assert status.phase == "connected"
            assert not errors, errors
            await screen_context.close()
    finally:
        agent.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await agent
        await console_context.close()


async def _frames(heard: RecorderSink) -> bool:
    return heard.frames["video"] > 5
