"""Headless Chromium walks the booth UI (clerk-agent booth) through a booth day against the real hub (docs/booths.md).

One resident of the host municipality and one of the neighbouring municipality (which accepts forwarding), both
recorded with the network cut, then synced; a resident of a municipality without forwarding is turned away before
anything is captured. Screenshots go to var/artifacts/booth/.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.app import bind_local
from clerk_agent.booth.app import serve_desk
from clerk_agent.booth.day import BoothDay
from clerk_agent.booth.desk import Desk
from clerk_agent.booth.hub import BoothHub
from clerk_agent.booth.store import BoothStore
from clerk_agent.link.auth import DeviceAuth
from clerk_agent.link.hub import HubLink
from clerk_agent.photo.camera import SceneCamera
from clerk_agent.photo.faces import look_of
from service.accounts.roles import Role
from service.booths import tasks as booth_tasks
from service.booths.standing import StandingSimulator
from service.config import Settings
from service.kit import clock
from tests._chromium import chromium
from tests.factories import PASSWORD, World, shinseisho_id
from tests.service.test_booth_day import Cable
from tests.service.test_booths import Booth

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "booth"
NOT_FORWARDING = "131016"  # a real-looking code the test world does not hold: no forwarding agreement


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The J-LIS simulator on, so that the day ends with the submissions."""
    return settings.model_copy(update={"jlis_adapter": "simulator"})


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium (tests/_chromium.py)."""
    async with chromium() as launched:
        yield launched


async def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def _step(page: Page, step: str) -> None:
    await page.wait_for_selector(f"body[data-step='{step}']", timeout=20000)


async def _applicant(page: Page, residence: str, sid: str, prefix: str) -> None:
    """One applicant through the desk's steps, as the officer clicks them."""
    await page.click("#next-applicant")
    await _step(page, "residence")
    # The officer picks a municipality by its name; the code is only beside it.
    label = await page.inner_text(f"button[data-code='{residence}']")
    assert not label[:1].isdigit(), label
    await page.click(f"button[data-code='{residence}']")
    await _step(page, "form")
    await page.fill("#demo-form-id", sid)
    await page.click("#demo-form")
    await page.click("#scan")  # the form's QR code, read by the camera as at the counter
    await _step(page, "answers")
    await _shot(page, f"{prefix}-2-questions")
    await page.click("#answers-next")
    await _step(page, "photo")
    await page.click("#take-photo")
    await page.wait_for_selector("#photo")
    await page.click("button[data-kind='document_front']")
    await page.wait_for_selector("button[data-kind='document_front']:has-text('✓')")
    await page.wait_for_function(
        "() => { const i = document.querySelector('#photo'); return i && i.complete && i.naturalWidth > 0; }"
    )
    assert "このまま撮影できます" in await page.inner_text(".advice")  # the counter's framing advice
    await _shot(page, f"{prefix}-3-photo")
    await page.click("#photos-done")
    await _step(page, "decision")
    for name in ("face_match", "attributes_match", "eligibility_confirmed", "documents_authentic"):
        await page.check(f"input[name='{name}']")
    await page.check("#attest")
    await _shot(page, f"{prefix}-4-decision")
    await page.click("#decide")
    await _step(page, "pins")
    await page.fill("input[name='sign_password']", "BOOTH2026")
    for name, pin in (("auth_pin", "5813"), ("juki_pin", "6924"), ("kenhojo_pin", "7035")):
        await page.fill(f"input[name='{name}']", pin)
    await page.click("#pins-submit")
    await _step(page, "day")


async def test_a_booth_day_in_chromium_for_a_host_and_a_neighbouring_resident(
    app: Any,
    client: httpx.AsyncClient,
    world: World,
    browser: Browser,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    booth = Booth(client, world)
    await booth.schedule()
    slot = booth.booth["slots"][0]
    booked = await client.post(
        f"/api/v1/booths/{booth.booth['id']}/slots/{slot['id']}/bookings",
        json={"change": 2},
        headers=world.h("a", Role.supervisor),
    )
    assert booked.status_code == 200, booked.text
    forwarding = await client.put(
        f"/api/v1/municipalities/{world.b.municipality_code}/booth-forwarding",
        json={"accepts_from": [world.a.municipality_code]},
        headers=world.admin_headers,
    )
    assert forwarding.status_code == 200, forwarding.text
    cable = Cable(httpx.ASGITransport(app=app))
    http = httpx.AsyncClient(
        transport=cable,
        base_url="http://hub.test",
        auth=DeviceAuth(world.a.device_id, world.a.device_key, clock=lambda: clock.now().timestamp()),
    )
    day = BoothDay(BoothStore(tmp_path / "booth.sqlite3"), BoothHub(HubLink(http)))
    desk = Desk(
        day, SceneCamera(person=look_of("booth-applicant")), booth_id=booth.booth["id"], sync_every_s=3600
    )
    sock = bind_local(0)
    ready = asyncio.Event()
    serving = asyncio.create_task(serve_desk(desk, sock, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 20)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        page = await browser.new_page(viewport={"width": 1100, "height": 900})
        await page.goto(url)
        # Before leaving: the officer logs in with their own account.
        await _step(page, "login")
        assert "出発前にログイン" in await page.inner_text("main")
        await page.fill("input[name='username']", world.a.usernames[Role.officer])
        await page.fill("input[name='password']", PASSWORD)
        await _shot(page, "01-login")
        await page.click("#login-submit")
        await _step(page, "day")
        assert "甲市郵便局" in await page.inner_text("#day")
        assert "本日の予約 2 人" in await page.inner_text("#day")
        await _shot(page, "02-day-start")
        # At the lobby the network is gone.
        cable.up = False
        await page.click("#sync-now")
        await page.wait_for_selector(".net.off")
        # A resident of a municipality that accepts no forwarding: told before anything is captured.
        await page.click("#next-applicant")
        await _step(page, "residence")
        await page.fill("#residence-code", NOT_FORWARDING)
        await page.click("#residence-other")
        await page.wait_for_selector("#notice:not([hidden])")
        assert "受け付けられません" in await page.inner_text("#notice")
        await _shot(page, "03-not-receivable")
        await page.click("#cancel")
        await _step(page, "day")
        # A resident of the host municipality, then one of the neighbouring municipality.
        await _applicant(page, world.a.municipality_code, shinseisho_id(), "04-host")
        await _applicant(page, world.b.municipality_code, shinseisho_id(), "05-neighbour")
        assert await page.locator("#cases tbody tr").count() == 2
        assert "未送信" in await page.inner_text("#cases")
        assert "オフライン" in await page.inner_text("#net")
        await _shot(page, "06-day-offline")
        # The network returns: both go, once.
        cable.up = True
        await page.click("#sync-now")
        await page.wait_for_selector(".net.on")
        await page.wait_for_selector("#cases:has-text('送信済み')")
        assert "未送信" not in await page.inner_text("#cases")
        await _shot(page, "07-day-synced")
        # The hub's re-check and J-LIS; the officer sees the end of the day.
        await app.state.integrations.worker.run_once()
        await booth_tasks.run_due(sessionmaker, StandingSimulator())
        await app.state.integrations.worker.run_once()
        await page.click("#sync-now")
        await desk.sync()
        await page.reload()
        await page.wait_for_selector("#cases:has-text('J-LISへ送信')")
        assert await page.locator("#cases tr:has-text('J-LISへ送信')").count() == 2
        await _shot(page, "08-day-end")
        await page.click("#lang")
        await page.wait_for_selector("#cases:has-text('Sent to J-LIS')")
        await _shot(page, "09-day-end-english")
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await serving
        await http.aclose()
        day.store.close()
