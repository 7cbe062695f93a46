"""The lobby terminal in headless Chromium: card, certificate and options, PIN pad, receipt, take the card.

The touch UI is the real one (clerk_agent/kiosk/ui.py) around the real flow and the virtual card; the slip goes to
a real cupsd queue; the hub is the stand-in that verifies the card's signature with the hub's own code.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Page

from clerk_agent.app import bind_local
from clerk_agent.card.virtual.people import PEOPLE
from clerk_agent.flows.cardslot import VirtualSlot
from clerk_agent.kiosk.flow import KioskFlow
from clerk_agent.kiosk.ui import create_kiosk_ui
from clerk_agent.link.client import HubClient
from clerk_agent.printing.ipp import IppPrinter
from tests._chromium import chromium
from tests._cups import CupsServer
from tests._seen import assert_clean, assert_in_viewport
from tests._uvicorn import served
from tests.clerk_agent.app._pdf import pdf_lines
from tests.clerk_agent.kiosk._standin import MUNICIPALITY, StandInHub

pytestmark = [pytest.mark.browser]

_REMOVE_CARD = """async (present) => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const r = await fetch('/api/virtual-card', {method: 'POST', credentials: 'same-origin',
    headers: {'X-CSRF-Token': csrf, 'Content-Type': 'application/json'}, body: JSON.stringify({present})});
  return r.status;
}"""


async def _at(page: Page, step: str) -> None:
    await page.wait_for_selector(f"body[data-step={step}]", timeout=15_000)


async def test_terminal_walk_through(cups: CupsServer, pki: Path, artifacts: Path) -> None:
    queue = cups.add_queue("kiosk_slip")
    hub = StandInHub(pki)
    link, http = hub.link()
    slot = VirtualSlot(pki, "yamada_hanako")
    flow = KioskFlow(HubClient(link), slot, IppPrinter(queue, poll_s=0.05), municipality_code=MUNICIPALITY)
    sock = bind_local(0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        create_kiosk_ui(flow), log_level="warning", access_log=False, lifespan="off", ws="none"
    )
    runner = asyncio.create_task(flow.run())
    try:
        async with served(config, sockets=[sock]), chromium() as browser:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await page.goto(base + "/")
            await _at(page, "choose")
            await assert_clean(page)
            await page.click("[data-kind=juminhyo]")
            await page.click("[data-scope=household]")
            await page.click("[data-option=honseki]")
            await page.click("#count-plus")
            assert await page.text_content("#count") == "2"
            # 個人番号 is not offered, so there is no button for it.
            assert await page.locator("[data-option=kojin_bango]").count() == 0
            await assert_in_viewport(page, "#next")
            await page.screenshot(path=artifacts / "terminal-1-choose.png", full_page=True)
            await page.click("#next")
            await _at(page, "pin")
            assert "残り3回" in (await page.text_content("#pin-tries") or "")
            await assert_clean(page)
            for digit in PEOPLE["yamada_hanako"].auth_pin:
                await page.click(f"[data-digit='{digit}']")
            await page.screenshot(path=artifacts / "terminal-2-pin.png", full_page=True)
            await page.click("#pin-ok")
            await _at(page, "receipt")
            receipt = hub.receipts[0]
            assert await page.text_content("#receipt-number") == receipt.receipt_number
            assert await page.locator("#take-card").is_visible()
            await page.screenshot(path=artifacts / "terminal-3-receipt.png", full_page=True)
            assert hub.proofs_ok == [True]
            assert receipt.receipt_number in pdf_lines(cups.printed("kiosk_slip"))
            assert await page.evaluate(_REMOVE_CARD, False) == 200
            await _at(page, "insert")
            await page.screenshot(path=artifacts / "terminal-4-next.png", full_page=True)
            await assert_clean(page)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await http.aclose()
