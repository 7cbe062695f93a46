"""Signed device requests against a hostile caller: replaying a failed request, encoded vs decoded paths, and
timestamp spellings that `int()` would take. Each test fails on the hub before issue #12's fixes."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.models import DeviceRequestNonce
from service.kit import clock
from service.wire import device_auth
from tests.factories import World, shinseisho_id


def _signed(
    world: World, method: str, target: str, *, nonce: str, body: bytes = b"", stamp: int | None = None
) -> dict[str, str]:
    """Tenant A's device signs `target` exactly as given (no canonical form applied here)."""
    return device_auth.sign_headers(
        world.a.device_key,
        device_id=world.a.device_id,
        method=method,
        path_and_query=target,
        timestamp=stamp if stamp is not None else int(clock.now().timestamp()),
        nonce=nonce,
        body=body,
    )


async def _nonce_recorded(sessionmaker: async_sessionmaker[AsyncSession], nonce: str) -> bool:
    async with sessionmaker() as session:
        found = await session.scalar(select(DeviceRequestNonce).where(DeviceRequestNonce.nonce == nonce))
        return found is not None


async def test_a_failed_business_request_cannot_be_replayed(
    client: httpx.AsyncClient, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A 409 rolled the request's transaction back, and with it the nonce: the same request replayed got the
    handler again (409, not 401). Now the nonce is spent before the handler runs."""
    created = await world.device_a.post(
        "/api/v1/cases",
        json={
            "municipality_code": world.a.municipality_code,
            "procedure": "card_application",
            "shinseisho_id": shinseisho_id(),
        },
    )
    assert created.status_code == 201, created.text
    target = f"/api/v1/cases/{created.json()['id']}/request-verification"
    headers = {
        **_signed(world, "POST", target, nonce="failed-request-0001", body=b"{}"),
        "content-type": "application/json",
    }
    first = await client.post(target, content=b"{}", headers=headers)
    assert first.status_code == 409, first.text  # a draft case cannot go to the queue
    assert await _nonce_recorded(sessionmaker, "failed-request-0001")
    replay = await client.post(target, content=b"{}", headers=headers)
    assert replay.status_code == 401, replay.text
    assert replay.json()["code"] == "device_request_replayed"


async def test_a_request_refused_for_its_body_cannot_be_replayed(
    client: httpx.AsyncClient, world: World
) -> None:
    """A 422 (body refused after authentication) used to leave the nonce unspent as well."""
    body = json.dumps({"municipality_code": world.a.municipality_code, "procedure": "no_such_thing"}).encode()
    headers = {
        **_signed(world, "POST", "/api/v1/cases", nonce="failed-request-0002", body=body),
        "content-type": "application/json",
    }
    first = await client.post("/api/v1/cases", content=body, headers=headers)
    assert first.status_code == 422, first.text
    replay = await client.post("/api/v1/cases", content=body, headers=headers)
    assert replay.status_code == 401, replay.text
    assert replay.json()["code"] == "device_request_replayed"


async def test_a_signature_over_the_decoded_path_does_not_pass_for_the_encoded_one(
    client: httpx.AsyncClient, world: World
) -> None:
    """The hub checked the decoded path: a signature over `/devices/me` passed for `/devices/m%65`."""
    headers = _signed(world, "GET", "/api/v1/devices/me", nonce="encoded-path-0001")
    refused = await client.get("/api/v1/devices/m%65", headers=headers)
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "invalid_device_signature"


async def test_a_signature_over_the_encoded_path_does_not_pass_for_the_decoded_one(
    client: httpx.AsyncClient, world: World
) -> None:
    """The other direction: signed as `/devices/m%65`, sent as `/devices/me`."""
    headers = _signed(world, "GET", "/api/v1/devices/m%65", nonce="encoded-path-0002")
    refused = await client.get("/api/v1/devices/me", headers=headers)
    assert refused.status_code == 401, refused.text


async def test_the_agent_signs_the_raw_target_and_the_hub_checks_the_same(world: World) -> None:
    """The agent signed the raw (encoded) target while the hub checked the decoded one: a 401 for a request
    whose path carries a percent-escape. Lower-case escapes are the same canonical target as upper-case."""
    for target in ("/api/v1/devices/m%65", "/api/v1/devices/%6de", "/api/v1/devices/me?x=%2f"):
        response = await world.device_a.get(target)
        assert response.status_code == 200, (target, response.text)
        assert response.json()["id"] == world.a.device_id


def test_canonical_target() -> None:
    """Escapes are kept (only their hex is upper-cased); an empty query is no query."""
    assert device_auth.canonical_target("/a%2fb") == "/a%2Fb"
    assert device_auth.canonical_target("/a/b") == "/a/b"
    assert device_auth.canonical_target("/a?") == "/a"
    assert device_auth.canonical_target("/a", "q=%c3%a9") == "/a?q=%C3%A9"
    assert device_auth.canonical_target("/a?q=1") == "/a?q=1"


@pytest.mark.parametrize(
    "spell", [lambda t: f"+{t}", lambda t: f"0{t}", lambda t: f"{t[:4]}_{t[4:]}", lambda t: f"00{t}"]
)
async def test_timestamp_spellings_other_than_plain_decimal_are_refused(
    client: httpx.AsyncClient, world: World, spell: object
) -> None:
    """`int()` took "+N", "0N" and "1_7…" for N, and the signature (over N) verified: now a 401 with its code."""
    assert callable(spell)
    stamp = int(clock.now().timestamp())
    headers = _signed(world, "GET", "/api/v1/devices/me", nonce="timestamp-spelling", stamp=stamp)
    headers[device_auth.HEADER_TIMESTAMP] = spell(str(stamp))
    refused = await client.get("/api/v1/devices/me", headers=headers)
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "device_timestamp_malformed"
    # The same request with the plain spelling passes: only the spelling was refused (and no nonce was spent).
    headers[device_auth.HEADER_TIMESTAMP] = str(stamp)
    assert (await client.get("/api/v1/devices/me", headers=headers)).status_code == 200


def test_timestamp_format() -> None:
    """What the wire defines: 1 to 12 digits, no leading zero, nothing else."""
    assert device_auth.parse_timestamp("1767225600") == 1767225600
    for bad in ("", "0", "+1", "-1", "01", " 1", "1 ", "1\n", "1_0", "1.0", "١٢", "1" * 13):
        with pytest.raises(ValueError, match="plain decimal"):
            device_auth.parse_timestamp(bad)


async def test_malformed_nonce_is_refused(client: httpx.AsyncClient, world: World) -> None:
    """The wire says URL-safe characters; the hub only counted them (a nonce with spaces or dots passed)."""
    headers = _signed(world, "GET", "/api/v1/devices/me", nonce="not url safe.nonce!")
    refused = await client.get("/api/v1/devices/me", headers=headers)
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "device_nonce_malformed"
