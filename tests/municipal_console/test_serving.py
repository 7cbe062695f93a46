"""The console as the hub serves it: security headers, the root redirect, CSP-safe assets, complete dictionaries."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from municipal_console.router import STATIC_DIR, content_security_policy
from service.app import create_app
from service.config import Environment, Settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Plain test settings: these tests need no browser network."""
    return Settings(
        environment=Environment.test,
        database_url=database_url,
        data_dir=tmp_path / "hub",
        public_origin="https://hub.example.test",
    )


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app in process (static files need no lifespan)."""
    app = create_app(settings, check_migrations=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://hub.example.test") as client:
        yield client


async def test_console_index_carries_the_security_headers(http: httpx.AsyncClient) -> None:
    response = await http.get("/console/")
    assert response.status_code == 200
    assert "審査コンソール" in response.text
    csp = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self' wss://hub.example.test"
    assert directives["img-src"] == "'self' data: blob:"
    assert directives["media-src"] == "'self' blob:"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    module = await http.get("/console/js/app.js")
    assert module.status_code == 200
    assert "javascript" in module.headers["content-type"]
    assert module.headers["content-security-policy"] == csp


async def test_root_and_bare_path_lead_to_the_console(http: httpx.AsyncClient) -> None:
    root = await http.get("/")
    assert root.status_code == 307
    assert root.headers["location"] == "/console/"
    bare = await http.get("/console")
    assert bare.status_code in {307, 308}
    assert bare.headers["location"].endswith("/console/")


async def test_missing_asset_is_404_with_headers(http: httpx.AsyncClient) -> None:
    response = await http.get("/console/js/nope.js")
    assert response.status_code == 404
    assert response.headers["x-content-type-options"] == "nosniff"


def test_websocket_origin_follows_the_scheme() -> None:
    assert "connect-src 'self' ws://127.0.0.1:8300;" in content_security_policy("http://127.0.0.1:8300")


def _assets(*suffixes: str) -> list[Path]:
    return sorted(p for p in STATIC_DIR.rglob("*") if p.suffix in suffixes)


def test_assets_are_csp_safe_and_offline() -> None:
    """No inline script, style or handler, no eval, nothing fetched from another origin."""
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert re.findall(r"<style\b", html) == []
    assert re.findall(r"\sstyle=", html) == []
    assert re.findall(r"\son[a-z]+=", html) == []
    for path in _assets(".html", ".js", ".css"):
        # The SVG namespace is a name, never fetched (js/chart.js draws the reports' charts with it).
        text = path.read_text(encoding="utf-8").replace('"http://www.w3.org/2000/svg"', "")
        assert "http://" not in text, path
        assert "https://" not in text, path
        assert not re.search(r"\beval\(|new Function\(|innerHTML|insertAdjacentHTML|document\.write", text), (
            path
        )
        assert not re.search(r"setTimeout\(\s*[\"'`]", text), path


def _keys(block: str) -> set[str]:
    return set(re.findall(r'^\s+"?([A-Za-z0-9_+\-]+)"?:', block, flags=re.MULTILINE)) | set(
        re.findall(r'(?<=[{,]\s)"?([a-z]+_[0-9])"?:', block)
    )


def test_every_ui_string_exists_in_japanese_and_english() -> None:
    source = (STATIC_DIR / "js" / "strings.js").read_text(encoding="utf-8")
    ja_block, en_block = source.split("\n  en: {", 1)
    ja, en = _keys(ja_block.split("\n  ja: {", 1)[1]), _keys(en_block)
    assert ja == en, f"only ja: {sorted(ja - en)}; only en: {sorted(en - ja)}"
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    used = set(re.findall(r'data-i18n="([^"]+)"', html))
    for pairs in re.findall(r'data-i18n-attr="([^"]+)"', html):
        used |= {pair.split(":")[1] for pair in pairs.split(";")}
    scripts = "\n".join(p.read_text(encoding="utf-8") for p in _assets(".js"))
    used |= set(re.findall(r'\b(?:t|notice)\("([a-z0-9_]+)"', scripts)) - {"unmute_needed"}
    # The labels of the contract's codes come from contract.js (i18n.js looks there after the dictionary).
    known = ja | _contract_keys()
    assert used - known == set(), f"strings missing from the dictionary: {sorted(used - known)}"


def _contract_keys() -> set[str]:
    from service.wire.es import contract

    parts: dict[str, Any] = contract()
    keys = {f"state_{code}" for code in parts["STATE_LABELS"]}
    keys |= {f"reason_{code}" for code in parts["REASON_LABELS"]}
    keys |= {f"hold_{entry['code']}" for entry in parts["HOLD_REASONS"]}
    keys |= {f"procedure_{entry['code']}" for entry in parts["PROCEDURES"]}
    return keys
