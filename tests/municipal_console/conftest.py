"""Fixtures of the console's browser tests: a private network for Chromium, the hub under uvicorn on it."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, async_playwright

from service.config import Environment, Settings
from tests._chromium import ARGS, CHROMIUM
from tests._services import missing_service
from tests._uvicorn import served
from tests.municipal_console._net import BrowserNet, browser_namespace, chromium_in

# The hub tests' tenants, case driver and test PKI, shared rather than copied.
from tests.service.conftest import dev_pki_dir, driver, world  # noqa: F401

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "console"
# The console's flags beyond the shared ones (tests/_chromium.py): media plays without a click, nothing phones home.
CONSOLE_FLAGS = (
    "--no-default-browser-check",
    "--disable-domain-reliability",
    "--metrics-recording-only",
    "--autoplay-policy=no-user-gesture-required",
)
CHROMIUM_ARGS = [*ARGS, *CONSOLE_FLAGS]


@pytest.fixture(scope="module")
def browser_net() -> Iterator[BrowserNet]:
    """The namespace Chromium runs in, with its veth pair; needs root (CI runs as root)."""
    if not CHROMIUM.exists():
        missing_service("chromium")
    with browser_namespace() as net:
        yield net


@pytest.fixture
def settings(database_url: str, tmp_path: Path, dev_pki_dir: Path, browser_net: BrowserNet) -> Settings:  # noqa: F811
    """The hub on the veth's host end, with a fast queue and short signaling timings."""
    with socket.socket() as probe:
        probe.bind((browser_net.host_address, 0))
        port = int(probe.getsockname()[1])
    return Settings(
        environment=Environment.test,
        database_url=database_url,
        data_dir=tmp_path / "hub",
        host=browser_net.host_address,
        port=port,
        public_origin=f"http://{browser_net.host_address}:{port}",
        dev_pki_dir=dev_pki_dir,
        officer_wrapup_seconds=0,
        queue_tick_seconds=0.2,
        signaling_heartbeat_seconds=5.0,
        signaling_resume_grace_seconds=10.0,
    )


@pytest.fixture
async def hub_url(app: object, settings: Settings) -> AsyncIterator[str]:
    """The app (lifespan running) under uvicorn on the veth's host address."""
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=settings.host,
        port=settings.port,
        lifespan="off",
        log_level="warning",
        ws="websockets-sansio",
    )
    async with served(config, name="uvicorn-console-hub"):
        yield settings.origin


@pytest.fixture
async def browser(browser_net: BrowserNet, tmp_path: Path) -> AsyncIterator[Browser]:
    """Headless Chromium inside the namespace, with a fresh profile."""
    launcher = chromium_in(browser_net.namespace, tmp_path, str(CHROMIUM))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(launcher),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield browser
        finally:
            with contextlib.suppress(Exception):
                await browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (var/ is git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
