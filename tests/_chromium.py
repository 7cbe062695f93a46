"""The system's headless Chromium for the browser tests (never `playwright install`): one launcher, one set of flags.

The console's tests launch the same binary inside their own network namespace (tests/municipal_console/_net.py);
the counter's and the demo's run it in the host's network, as a person at that machine would.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from tests._services import missing_service

try:
    from playwright.async_api import Browser, async_playwright
except ImportError:  # pragma: no cover - the dev extra is missing (reported as a missing service)
    async_playwright = None  # type: ignore[assignment]

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@contextlib.asynccontextmanager
async def chromium(*extra: str) -> AsyncIterator[Browser]:
    """Headless Chromium with the shared flags and `extra`, closed afterwards; a missing one fails the test."""
    if not HAVE_CHROMIUM or async_playwright is None:
        missing_service("chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=[*ARGS, *extra]
        )
        try:
            yield launched
        finally:
            with contextlib.suppress(Exception):
                await launched.close()
