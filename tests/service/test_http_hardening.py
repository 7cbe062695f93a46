"""Security headers, local API docs (no CDN), and the console's same-origin assets."""

from __future__ import annotations

import re

import httpx


async def test_api_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    problem = await client.get("/api/v1/cases")
    assert problem.status_code == 401
    assert problem.headers["x-content-type-options"] == "nosniff"


async def test_docs_are_served_locally(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    # Every script and stylesheet the page loads comes from this hub.
    for url in re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text):
        assert url.startswith("/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
    assert "cdn" not in page.text.lower()
    schema = await client.get("/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/cases" in schema.json()["paths"]
