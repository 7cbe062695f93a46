"""Redirects name the configured public origin or a path on the same site, never the Host header's site."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from service.app import create_app
from service.config import Settings
from service.security import safe_location

EVIL = "evil.example"


@pytest.mark.parametrize(
    ("location", "origin", "expected"),
    [
        ("/console/", "", "/console/"),
        ("http://evil.example/console/", "", "/console/"),
        ("http://evil.example/console/", "https://hub.example.jp", "https://hub.example.jp/console/"),
        ("https://evil.example//evil.example/x/?a=1", "", "/evil.example/x/?a=1"),
        ("//evil.example/x", "", "/x"),
        ("/\\evil.example/x", "", "/evil.example/x"),
        ("next", "", "next"),
    ],
)
def test_safe_location(location: str, origin: str, expected: str) -> None:
    assert safe_location(location, origin) == expected


@asynccontextmanager
async def _app(settings: Settings, public_origin: str) -> AsyncIterator[object]:
    application = create_app(settings.model_copy(update={"public_origin": public_origin}))
    async with application.router.lifespan_context(application):
        yield application


async def _get(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as c:
        return await c.get(path, headers={"Host": EVIL})


PATHS = ["/console", "/api/v1/cases/", "//evil.example/console", "/"]


async def test_redirects_ignore_the_host_header(settings: Settings, engine: object) -> None:
    """Fails on the old code: Starlette's trailing-slash redirects were built from the Host header."""
    async with _app(settings, "") as app:
        for path in PATHS:
            response = await _get(app, path)
            assert response.status_code in (307, 308), (path, response.text)
            location = response.headers["location"]
            # A path on the same site: no scheme, no host, and no `//host` a browser would read as a site.
            assert location.startswith("/"), (path, location)
            assert not location.startswith(("//", "/\\")), (path, location)
            assert "://" not in location, (path, location)


async def test_redirects_use_the_public_origin(settings: Settings, engine: object) -> None:
    """Fails on the old code: the Location named http://evil.example/… instead of the configured origin."""
    async with _app(settings, "https://hub.example.jp") as app:
        # Starlette's own redirects (the root's redirect to /console/ is a path already and stays one).
        for path in PATHS[:3]:
            location = (await _get(app, path)).headers["location"]
            assert location.startswith("https://hub.example.jp/"), (path, location)
            assert not location.startswith("https://hub.example.jp//"), (path, location)
