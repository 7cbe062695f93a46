"""Fixtures of the signaling tests: short heartbeats and grace, the app under a real uvicorn server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from service.accounts.roles import Role
from service.config import Settings
from tests._procs import free_port
from tests.factories import World
from tests.service.signaling._hub import serving


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The run's settings with a real port (tickets name it) and timings short enough for tests."""
    port = free_port()
    return settings.model_copy(
        update={
            "port": port,
            "public_origin": f"http://127.0.0.1:{port}",
            "signaling_heartbeat_seconds": 1.0,
            "signaling_resume_grace_seconds": 1.5,
            "signaling_rate_per_second": 30.0,
            "signaling_rate_burst": 40,
        }
    )


@pytest.fixture
async def hub_url(app: object, settings: Settings) -> AsyncIterator[str]:
    """The app under uvicorn on 127.0.0.1 (stopped after the test)."""
    async with serving(app, settings.port) as url:
        yield url


@pytest.fixture
async def officer_http(app: object, world: World) -> AsyncIterator[httpx.AsyncClient]:
    """Tenant A's officer, logged in, in process."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://hub.test",
        headers=world.h("a", Role.officer),
    ) as client:
        yield client
