"""Hostile webhook URLs against the subscription endpoints (issue #12, item 8): never a 5xx, always the documented
answer, and whatever is stored is canonical and public.

tests/service/test_schemathesis.py fuzzes every operation with schema-derived strings; a URL field needs strings shaped
like the attacks on URL parsers (numeric IPv4 spellings, IPv6 forms, brackets, control characters, user info,
fragments), so this file generates those with Hypothesis (derandomized, a fixed number) and adds the explicit cases
of the probe. Each answer is validated against the OpenAPI document with schemathesis' own checks.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import service as accounts_service
from service.accounts.roles import SYSTEM, Scope
from service.db import unit_of_work
from service.kit.egress import DestinationUnresolved, IPAddress, address_refusal, name_refusal, parse_url
from service.outbox.models import WebhookSubscription
from tests.factories import World
from tests.service._examples import fixed_examples

pytestmark = pytest.mark.slow

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 150
URL_CODES = {"webhook_url_invalid", "webhook_destination_refused", "validation_error"}

# Addresses an attacker wants to reach, to be spelled in every way a lenient parser accepts.
TARGETS = [
    "127.0.0.1",
    "0.0.0.0",  # noqa: S104 — a target spelled, never bound
    "10.0.0.1",
    "169.254.169.254",
    "192.168.0.1",
    "100.64.0.1",
    "172.16.0.1",
]


def _spellings(address: str) -> st.SearchStrategy[str]:
    """Numeric spellings of an IPv4 address: octal, hex, integer, short forms, leading zeros, mixed."""
    parts = [int(p) for p in address.split(".")]
    value = int(ipaddress.IPv4Address(address))
    forms = [
        address,
        ".".join(f"0{p:o}" for p in parts),
        ".".join(f"0x{p:x}" for p in parts),
        str(value),
        f"0x{value:x}",
        f"0{value:o}",
        f"{parts[0]}.{value & 0xFFFFFF}",
        f"{parts[0]}.{parts[1]}.{value & 0xFFFF}",
        ".".join(f"{p:03d}" for p in parts),
        f"{address}.",
        f"[::ffff:{address}]",
        f"[::{address}]",
        f"[64:ff9b::{address}]",
        f"[::ffff:{address}%25lo]",
    ]
    return st.sampled_from(forms)


HOSTS = st.one_of(
    st.sampled_from(TARGETS).flatmap(_spellings),
    st.sampled_from(
        [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "x.localhost",
            "metadata.google.internal",
            "metadata",
            "[::1]",
            "[::]",
            "[fe80::1]",
            "[fd00::1]",
            "[0:0:0:0:0:0:0:1]",
            "::1",
            "[::1",
            "::1]",
            "[[::1]]",
            "receiver.example",
            "１２７.０.０.１",
            "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ",
            "",
        ]
    ),
    st.text(st.characters(codec="utf-8"), max_size=20),
)
PORTS = st.one_of(
    st.just(""),
    st.integers(min_value=-1, max_value=70000).map(lambda p: f":{p}"),
    st.sampled_from([":", ":080", ":8o", ": 80", ":+80", ":0x50"]),
)
NOISE = st.sampled_from(
    ["", "\r\n", "\n", "\t", " ", "\x00", "\x7f", "#", "\\", "@", "%", "%0d%0a", "?", "ü", "[", "]"]
)


@st.composite
def hostile_urls(draw: st.DrawFn) -> str:
    """A URL built from an attack's parts, with noise inserted somewhere."""
    scheme = draw(
        st.sampled_from(["http", "https", "HTTP", "hTTps", "ftp", "file", "gopher", "javascript", ""])
    )
    userinfo = draw(st.sampled_from(["", "user@", "user:pw@", "receiver.example@", "@"]))
    path = draw(st.sampled_from(["", "/", "/hooks", "/a b", "/%zz", "/..%2f..", "/x?y=1", "/x#frag"]))
    url = f"{scheme}://{userinfo}{draw(HOSTS)}{draw(PORTS)}{path}"
    if draw(st.booleans()):
        at = draw(st.integers(min_value=0, max_value=len(url)))
        url = url[:at] + draw(NOISE) + url[at:]
    return url


def _examples() -> list[str]:
    """EXAMPLES hostile URLs, the same ones every run."""
    return fixed_examples(st.one_of(hostile_urls(), st.text(max_size=60)), EXAMPLES)


EXPLICIT = [
    "http://[::1/x",
    "http://127.0.0.1:99999/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://2130706433/",
    "http://receiver.example/a\r\nHost: evil",
    "http://[::ffff:127.0.0.1]/",
    "http://[fe80::1%25eth0]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/",
    "http://" + "a" * 64 + ".example/",
    "http://" + ".".join(["a" * 63] * 4) + ".example/",
    "https://receiver.example/" + "x" * 490,
    "http://xn--/",
    "http://xn--zz.example/",
]


class EmptyResolver:
    """No name resolves (random names must not reach real DNS), except `loopback.example`."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """127.0.0.1 for loopback.example, otherwise DestinationUnresolved."""
        if host == "loopback.example":
            return [ipaddress.IPv4Address("127.0.0.1")]
        raise DestinationUnresolved(host)


def _assert_public(url: str) -> None:
    """A stored URL is canonical (parses to itself) and names no refused address or name."""
    destination = parse_url(url)
    assert destination.url == url, f"stored {url!r} is not canonical ({destination.url!r})"
    if destination.address is not None:
        assert address_refusal(destination.address) is None, url
    else:
        assert name_refusal(destination.host) is None, url


async def test_hostile_webhook_urls_get_a_documented_answer(
    app: FastAPI, client: httpx.AsyncClient, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Old code: `http://[::1/x` was a 500 and 127.1, octal or CR/LF forms were stored."""
    app.state.integrations.egress.resolver = EmptyResolver()
    async with unit_of_work(sessionmaker) as session:
        _, _, key = await accounts_service.create_client(
            session,
            actor=SYSTEM,
            municipality_code=world.a.municipality_code,
            name="webhooks",
            scopes=[Scope.webhooks_manage],
            key_ttl_days=30,
        )
    headers = {"Authorization": f"ApiKey {key}"}
    schema = schemathesis.openapi.from_dict(app.openapi())
    create = schema["/api/v1/webhook-subscriptions"]["POST"]
    update = schema["/api/v1/webhook-subscriptions/{subscription_id}"]["PATCH"]
    base = await client.post(
        "/api/v1/webhook-subscriptions",
        json={"url": "https://receiver.example/hooks", "event_types": ["case.queued"]},
        headers=headers,
    )
    assert base.status_code == 201, base.text
    sub_id = base.json()["id"]
    answers: dict[str, int] = {}
    for url in [*EXPLICIT, *_examples()]:
        body: dict[str, Any] = {"url": url, "event_types": ["case.queued"]}
        created = await client.post("/api/v1/webhook-subscriptions", json=body, headers=headers)
        create.Case(body=body, media_type="application/json").validate_response(created, checks=CHECKS)
        answers[url] = created.status_code
        if created.status_code == 201:
            _assert_public(created.json()["url"])
            async with unit_of_work(sessionmaker) as session:  # room under the 10-per-municipality limit
                await session.execute(
                    delete(WebhookSubscription).where(WebhookSubscription.id == created.json()["id"])
                )
        else:
            assert created.status_code == 422, (url, created.text)
            assert created.json()["code"] in URL_CODES, (url, created.json())
        patch = update.Case(
            path_parameters={"subscription_id": sub_id}, body={"url": url}, media_type="application/json"
        )
        patched = await client.patch(
            f"/api/v1/webhook-subscriptions/{sub_id}", json={"url": url}, headers=headers
        )
        patch.validate_response(patched, checks=CHECKS)
        assert patched.status_code == (200 if created.status_code == 201 else 422), (url, patched.text)
        if patched.status_code == 200:
            _assert_public(patched.json()["url"])
        else:
            assert patched.json()["code"] in URL_CODES, (url, patched.json())
    assert {url: answers[url] for url in EXPLICIT} == dict.fromkeys(EXPLICIT, 422)
    assert len(answers) > 100, "the strategy produced too few distinct URLs"
