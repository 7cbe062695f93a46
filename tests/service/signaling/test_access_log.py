"""What uvicorn logs of the signaling socket and of HTTP requests carries no ticket or token (issue #12).

The ticket rides in the socket's query string (browsers cannot set headers on a WebSocket), and uvicorn prints
every request target whole; the hub's masking filter now masks credentials in query strings. Each test here
failed before: the full ticket was in the log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from service.logging import JsonFormatter, MaskingFilter, configure, mask_text
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.signaling._hub import RawSocket, ticket, ws_url_with

UVICORN_LOGGERS = ("uvicorn.error", "uvicorn.access")


@contextlib.contextmanager
def uvicorn_log() -> Iterator[io.StringIO]:
    """uvicorn's loggers at INFO into a buffer, through a handler set up as the hub's (masking filter, JSON)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter())
    saved = {name: logging.getLogger(name).level for name in UVICORN_LOGGERS}
    for name in UVICORN_LOGGERS:
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        yield out
    finally:
        for name, level in saved.items():
            logging.getLogger(name).removeHandler(handler)
            logging.getLogger(name).setLevel(level)


async def _lines_with(out: io.StringIO, needle: str, count: int) -> list[str]:
    async with asyncio.timeout(5):
        while True:
            lines = [line for line in out.getvalue().splitlines() if needle in line]
            if len(lines) >= count:
                return lines
            await asyncio.sleep(0.02)


async def test_tickets_are_masked_in_uvicorns_log_lines(
    hub_url: str, world: World, driver: CaseDriver
) -> None:
    case = await driver.create()
    with uvicorn_log() as out:
        accepted = await ticket(world.device_a, case["id"])
        sock = await RawSocket.open(ws_url_with(accepted))
        await sock.join(case["id"], "clerk")
        await sock.close()
        refused = await ticket(world.device_a, case["id"])
        with pytest.raises(InvalidStatus):
            await RawSocket.open(ws_url_with(refused), origin="http://elsewhere.example")
        async with httpx.AsyncClient(base_url=hub_url) as plain:
            await plain.get("/healthz", params={"ticket": accepted["ticket"], "access_token": "tok-SECRET-1"})
        lines = await _lines_with(out, "ticket=***", 3)
    text = out.getvalue()
    for secret in (accepted["ticket"], refused["ticket"], "tok-SECRET-1"):
        assert secret not in text
    assert any("[accepted]" in line for line in lines)
    assert any("/healthz?ticket=***&access_token=***" in line for line in lines)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("GET /api/v1/signaling?ticket=eyJh.c2ln HTTP/1.1", "GET /api/v1/signaling?ticket=*** HTTP/1.1"),
        ("/x?a=1&access_token=abc&b=2", "/x?a=1&access_token=***&b=2"),
        ("/x?resume_token=n.1.p.m#frag", "/x?resume_token=***#frag"),
        ("/x?api_key=mgk_1.s", "/x?api_key=***"),
        ('{"ticket": "eyJh.c2ln"}', '{"ticket": "***"}'),
        # Ordinary parameters stay readable.
        ("/api/v1/cases?municipality_code=999997&kind=application_photo", None),
        ("ticket_used: a ticket admits once", None),
    ],
)
def test_query_string_credentials_are_masked(raw: str, masked: str | None) -> None:
    assert mask_text(raw) == (masked if masked is not None else raw)


def test_uvicorns_loggers_go_through_the_mask() -> None:
    """`hub serve` hands this config to uvicorn: every logger it configures writes through the masking filter."""
    config = configure()
    for name in ("uvicorn", *UVICORN_LOGGERS):
        for handler in config["loggers"][name]["handlers"]:
            assert "mask" in config["handlers"][handler]["filters"]
