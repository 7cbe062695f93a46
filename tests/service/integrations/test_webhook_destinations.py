"""Where webhooks may go (issue #12, items 3, 4, 8): strict URLs, no internal addresses, pinned connections, and one
bad endpoint never stalls a delivery pass.

The worker is off here: each test runs the passes itself, so "in the same pass" means one `run_once()`. No allow-list
unless a test sets one, so every loopback form is refused; the receivers still listen on loopback, and a request
reaching one of them is exactly what a refusal must prevent. Host names resolve through a table (TableResolver), never
through DNS, so a test can change an answer between registration and send.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import SYSTEM
from service.config import Settings
from service.db import unit_of_work
from service.integrations.models import JlisSubmission
from service.integrations.runtime import IntegrationsRuntime
from service.kit import clock
from service.kit.egress import AllowedDestinations, DestinationUnresolved, IPAddress
from service.kit.ids import random_id
from service.outbox.models import WebhookDelivery, WebhookSubscription
from tests.factories import Tenant, World
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver
from tests.service.integrations.conftest import Receiver, serving, subscribe, webhook_key

PUBLIC = "93.184.215.14"  # a public address; nothing connects to it here (only registration resolves to it)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No worker (tests run the passes), no allow-list, and a short retry horizon: one retry, then a dead letter."""
    return settings.model_copy(
        update={
            "outbox_worker": "off",
            "webhook_allowed_destinations": [],
            "webhook_retry_base_seconds": 0.05,
            "webhook_retry_max_seconds": 0.1,
            "webhook_retry_horizon_seconds": 1.0,
        }
    )


class TableResolver:
    """Answers host names from a table a test may change; an unknown name does not resolve."""

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The table's addresses of `host`."""
        self.lookups.append(host)
        if host not in self.table:
            raise DestinationUnresolved(host)
        return [ipaddress.ip_address(a) for a in self.table[host]]


@pytest.fixture
def runtime(app: FastAPI) -> IntegrationsRuntime:
    """The app's integrations runtime (its egress policy, worker and secret box)."""
    integrations: IntegrationsRuntime = app.state.integrations
    return integrations


@pytest.fixture
def resolver(runtime: IntegrationsRuntime) -> TableResolver:
    """A TableResolver in place of DNS, for registration and for the worker's connections alike."""
    table = TableResolver()
    runtime.egress.resolver = table
    return table


def allow(runtime: IntegrationsRuntime, *entries: str) -> None:
    """Set the operator's allow-list of the running app."""
    runtime.egress.allowed = AllowedDestinations.parse(entries)


@pytest.fixture
async def hooks(
    client: httpx.AsyncClient, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> dict[str, str]:
    """Tenant A's webhook-managing key, without any subscription."""
    return await webhook_key(sessionmaker, world.a)


def port_of(receiver: Receiver) -> int:
    """The receiver's port on loopback."""
    return int(httpx.URL(receiver.url).port or 0)


async def queued_case(client: httpx.AsyncClient, world: World, tenant: str) -> dict[str, Any]:
    """A case of tenant 'a' or 'b' up to the officer queue (its case.queued event is written)."""
    if tenant == "b":
        swapped = {(("a" if t == "b" else "b"), role): h for (t, role), h in world.headers.items()}
        world = dataclasses.replace(
            world, a=world.b, b=world.a, headers=swapped, device_a=world.device_b, device_b=world.device_a
        )
    driver = CaseDriver(client, world)
    case = await driver.create()
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    await driver.device(case["id"], "consents", consents=CONSENTS)
    return await driver.device(case["id"], "request-verification")


async def insert_subscription(
    sessionmaker: async_sessionmaker[AsyncSession], runtime: IntegrationsRuntime, tenant: Tenant, url: str
) -> str:
    """A subscription row written directly, as one stored before the URL rules existed."""
    sub_id = random_id("whs")
    now = clock.now()
    async with unit_of_work(sessionmaker) as session:
        session.add(
            WebhookSubscription(
                id=sub_id,
                municipality_code=tenant.municipality_code,
                url=url,
                event_types=["case.queued"],
                description=None,
                active=True,
                secret_ciphertext=runtime.box.seal("whsec_stored_before", sub_id),
                created_by=SYSTEM.id,
                created_at=now,
                updated_at=now,
            )
        )
    return sub_id


async def deliveries_by_subscription(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[str, list[WebhookDelivery]]:
    """Every delivery row, by subscription."""
    async with sessionmaker() as session:
        rows = (await session.execute(select(WebhookDelivery))).scalars().all()
    found: dict[str, list[WebhookDelivery]] = {}
    for row in rows:
        found.setdefault(row.subscription_id, []).append(row)
    return found


# (url, code): every form an attacker's probe used, and the neighbours a lenient parser reads as an address.
REFUSED = [
    # Ambiguous or malformed: refused before any lookup.
    ("http://127.1/", "webhook_url_invalid"),
    ("http://2130706433/", "webhook_url_invalid"),
    ("http://0177.0.0.1/", "webhook_url_invalid"),
    ("http://0x7f.0.0.1/", "webhook_url_invalid"),
    ("http://0x7f000001/", "webhook_url_invalid"),
    ("http://127.000.000.001/", "webhook_url_invalid"),
    ("http://010.0.0.1/", "webhook_url_invalid"),
    ("http://1.2.3.4.5/", "webhook_url_invalid"),
    ("http://[::1/x", "webhook_url_invalid"),
    ("http://::1/x", "webhook_url_invalid"),
    ("http://[::1]x/", "webhook_url_invalid"),
    ("http://[fe80::1%25eth0]/", "webhook_url_invalid"),
    ("http://[0:0:0:0:0:0:0:1]/", "webhook_url_invalid"),
    ("http://receiver.example/a\r\nX-Injected: 1", "webhook_url_invalid"),
    ("http://receiver.example/\x00", "webhook_url_invalid"),
    ("http://receiver.example/a b", "webhook_url_invalid"),
    ("http://receiver.example\\@127.0.0.1/", "webhook_url_invalid"),
    ("http://user:pw@receiver.example/", "webhook_url_invalid"),
    ("http://127.0.0.1@receiver.example/", "webhook_url_invalid"),
    ("http://receiver.example/#frag", "webhook_url_invalid"),
    ("ftp://receiver.example/x", "webhook_url_invalid"),
    ("file:///etc/passwd", "webhook_url_invalid"),
    ("gopher://receiver.example:70/_x", "webhook_url_invalid"),
    ("javascript:alert(1)", "webhook_url_invalid"),
    ("http:///no-host", "webhook_url_invalid"),
    ("//receiver.example/x", "webhook_url_invalid"),
    ("http://receiver.example:0/", "webhook_url_invalid"),
    ("http://receiver.example:65536/", "webhook_url_invalid"),
    ("http://receiver.example:080/", "webhook_url_invalid"),
    ("http://receiver.example:/", "webhook_url_invalid"),
    ("http://receiver.example./", "webhook_url_invalid"),
    ("http://%6c%6f%63%61%6c%68%6f%73%74/", "webhook_url_invalid"),
    ("http://１２７.０.０.１/", "webhook_url_invalid"),
    ("http://rec\u200beiver.example/", "webhook_url_invalid"),
    ("http://receiver.example/ü", "webhook_url_invalid"),
    ("http://receiver.example/%zz", "webhook_url_invalid"),
    # Well-formed, but loopback, unspecified, link-local, private, shared, multicast, reserved, or their IPv6 forms.
    ("http://localhost/", "webhook_destination_refused"),
    ("http://api.localhost/", "webhook_destination_refused"),
    ("http://127.0.0.1:8300/", "webhook_destination_refused"),
    ("http://127.9.9.9/", "webhook_destination_refused"),
    ("http://0.0.0.0/", "webhook_destination_refused"),
    ("http://169.254.169.254/latest/meta-data/", "webhook_destination_refused"),
    ("http://10.0.0.1/", "webhook_destination_refused"),
    ("http://172.16.0.1/", "webhook_destination_refused"),
    ("http://192.168.1.1/", "webhook_destination_refused"),
    ("http://100.64.0.1/", "webhook_destination_refused"),
    ("http://100.100.100.200/", "webhook_destination_refused"),
    ("http://224.0.0.1/", "webhook_destination_refused"),
    ("http://240.0.0.1/", "webhook_destination_refused"),
    ("http://255.255.255.255/", "webhook_destination_refused"),
    ("http://192.0.2.10/", "webhook_destination_refused"),
    ("http://[::1]/", "webhook_destination_refused"),
    ("http://[::]/", "webhook_destination_refused"),
    ("http://[fe80::1]/", "webhook_destination_refused"),
    ("http://[fc00::1]/", "webhook_destination_refused"),
    ("http://[fd12:3456::1]/", "webhook_destination_refused"),
    ("http://[fec0::1]/", "webhook_destination_refused"),
    ("http://[ff02::1]/", "webhook_destination_refused"),
    ("http://[::ffff:7f00:1]/", "webhook_destination_refused"),
    ("http://[::ffff:a9fe:a9fe]/", "webhook_destination_refused"),
    ("http://[::7f00:1]/", "webhook_destination_refused"),
    ("http://[2002:7f00:1::]/", "webhook_destination_refused"),
    ("http://[2002:a00:1::]/", "webhook_destination_refused"),
    ("http://[64:ff9b::a9fe:a9fe]/", "webhook_destination_refused"),
    ("http://[64:ff9b::a00:1]/", "webhook_destination_refused"),
    ("http://[64:ff9b:1::1]/", "webhook_destination_refused"),
    ("http://[2001::1]/", "webhook_destination_refused"),
    # Names: metadata services, local suffixes, single labels, and names that resolve inside.
    ("http://metadata.google.internal/computeMetadata/v1/", "webhook_destination_refused"),
    ("http://metadata.goog/", "webhook_destination_refused"),
    ("http://metadata/", "webhook_destination_refused"),
    ("http://instance-data.ec2.internal/", "webhook_destination_refused"),
    ("http://backoffice.internal/", "webhook_destination_refused"),
    ("http://svc.cluster.local/", "webhook_destination_refused"),
    ("http://intranet/", "webhook_destination_refused"),
    ("http://loopback.example/", "webhook_destination_refused"),
    ("http://mixed.example/", "webhook_destination_refused"),
    ("http://v6-loopback.example/", "webhook_destination_refused"),
    ("http://mapped.example/", "webhook_destination_refused"),
    ("http://cgnat.example/", "webhook_destination_refused"),
]
RESOLVING = {
    "loopback.example": ["127.0.0.1"],
    "mixed.example": [PUBLIC, "10.1.2.3"],  # one internal address refuses the name
    "v6-loopback.example": ["::1"],
    "mapped.example": ["::ffff:169.254.169.254"],
    "cgnat.example": ["100.100.100.200"],
    "backoffice.example.lg.jp": [PUBLIC],
    "xn--wgv71a119e.example": [PUBLIC],
}


async def test_registration_refuses_every_internal_or_ambiguous_form(
    client: httpx.AsyncClient, hooks: dict[str, str], resolver: TableResolver
) -> None:
    """Old code stored most of these (127.1, octal, CR/LF, metadata, private, IPv6 forms) and 500ed on [::1/x."""
    resolver.table.update(RESOLVING)
    answers: dict[str, tuple[int, str]] = {}
    for url, _ in REFUSED:
        response = await client.post(
            "/api/v1/webhook-subscriptions", json={"url": url, "event_types": ["case.queued"]}, headers=hooks
        )
        body = response.json()
        answers[url] = (response.status_code, body.get("code", ""))
        if response.status_code == 422:
            assert response.headers["content-type"] == "application/problem+json"
            assert body.get("reason"), body
    assert answers == {url: (422, code) for url, code in REFUSED}
    listed = await client.get("/api/v1/webhook-subscriptions", headers=hooks)
    assert listed.json() == [], "a refused URL was stored"

    # What is accepted is stored canonically: lower-case host, IDNA A-label, canonical IPv6.
    for url, stored in [
        (
            "https://BackOffice.Example.LG.JP:8443/hooks?city=1",
            "https://backoffice.example.lg.jp:8443/hooks?city=1",
        ),
        (
            "http://日本語.example/受信".replace("受信", "%E5%8F%97%E4%BF%A1"),
            "http://xn--wgv71a119e.example/%E5%8F%97%E4%BF%A1",
        ),
        ("https://[2606:4700:4700::1111]/h", "https://[2606:4700:4700::1111]/h"),
        ("https://not-yet-in-dns.example/h", "https://not-yet-in-dns.example/h"),
    ]:
        created = await client.post(
            "/api/v1/webhook-subscriptions", json={"url": url, "event_types": ["case.queued"]}, headers=hooks
        )
        assert created.status_code == 201, created.text
        assert created.json()["url"] == stored

    # A change of URL is held to the same rules, and a refused one leaves the subscription as it was.
    sub = created.json()
    for url, code in [
        ("http://127.1/", "webhook_url_invalid"),
        ("http://loopback.example/", "webhook_destination_refused"),
    ]:
        patched = await client.patch(
            f"/api/v1/webhook-subscriptions/{sub['id']}", json={"url": url}, headers=hooks
        )
        assert (patched.status_code, patched.json()["code"]) == (422, code)
    again = await client.get(f"/api/v1/webhook-subscriptions/{sub['id']}", headers=hooks)
    assert again.json()["url"] == "https://not-yet-in-dns.example/h"


async def test_allow_list_admits_what_it_names_and_nothing_else(
    client: httpx.AsyncClient, hooks: dict[str, str], resolver: TableResolver, runtime: IntegrationsRuntime
) -> None:
    """The operator's exceptions: an address, a network, a host name with a port. (Old code had no allow-list and
    no refusals.)"""
    resolver.table.update({"backoffice.internal": ["10.20.0.5"], "loopback.example": ["127.0.0.1"]})
    allow(runtime, "127.0.0.1", "10.30.0.0/16", "backoffice.internal:8443")
    cases = {
        "http://127.0.0.1:9000/h": 201,
        "http://loopback.example:9000/h": 201,  # resolves to an allowed address
        "http://127.0.0.2/h": 422,
        "http://10.30.4.4/h": 201,
        "http://10.31.0.1/h": 422,
        "https://backoffice.internal:8443/h": 201,
        "https://backoffice.internal/h": 422,  # another port of an allowed name
        "http://[::1]/h": 422,
    }
    got = {}
    for url in cases:
        response = await client.post(
            "/api/v1/webhook-subscriptions", json={"url": url, "event_types": ["case.queued"]}, headers=hooks
        )
        got[url] = response.status_code
    assert got == cases
    with pytest.raises(ValueError, match="allowed destination"):
        Settings(webhook_allowed_destinations=["10.0.0.0/33"])
    with pytest.raises(ValueError, match="allowed destination"):
        Settings(webhook_allowed_destinations=["backoffice.internal:99999"])


@pytest.fixture
async def second_receiver() -> AsyncIterator[Receiver]:
    """Another receiver on loopback (tenant B's back office)."""
    async with serving(Receiver()) as app:
        yield app


async def test_send_time_refuses_loopback_rows_and_redeliver_stays_refused(
    client: httpx.AsyncClient,
    world: World,
    hooks: dict[str, str],
    receiver: Receiver,
    resolver: TableResolver,
    runtime: IntegrationsRuntime,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Rows stored before the rules, pointing at a live loopback receiver: old code delivered to it (and showed
    its status and connection errors); now nothing reaches it and the log says only `destination_refused`."""
    port = port_of(receiver)
    resolver.table["loopback.example"] = ["127.0.0.1"]
    urls = [
        f"http://127.0.0.1:{port}/hooks",
        f"http://localhost:{port}/hooks",
        f"http://[::ffff:7f00:1]:{port}/hooks",
        f"http://loopback.example:{port}/hooks",
    ]
    subs = {await insert_subscription(sessionmaker, runtime, world.a, url): url for url in urls}
    await queued_case(client, world, "a")
    assert await runtime.worker.run_once() >= len(urls)
    assert receiver.requests == [], "a refused destination was contacted"
    listed = (await client.get("/api/v1/webhook-deliveries", headers=hooks)).json()["items"]
    assert {d["subscription_id"] for d in listed} == set(subs)
    for delivery in listed:
        assert (delivery["attempts"], delivery["last_error"], delivery["last_status_code"]) == (
            1,
            "destination_refused",
            None,
        ), subs[delivery["subscription_id"]]
    # One retry per the schedule, then dead letters; redelivering one of them is refused and changes nothing.
    clock.shift_for_tests(dt.timedelta(seconds=2))
    await runtime.worker.run_once()
    dead = (await client.get("/api/v1/webhook-deliveries", params={"status": "dead"}, headers=hooks)).json()
    assert {d["attempts"] for d in dead["items"]} == {2}
    assert len(dead["items"]) == len(urls)
    redo = await client.post(f"/api/v1/webhook-deliveries/{dead['items'][0]['id']}/redeliver", headers=hooks)
    assert (redo.status_code, redo.json()["code"]) == (422, "webhook_destination_refused")
    still = (await client.get("/api/v1/webhook-deliveries", params={"status": "dead"}, headers=hooks)).json()
    assert len(still["items"]) == len(urls)
    assert receiver.requests == []


async def test_dns_rebinding_after_registration_is_refused_at_send(
    client: httpx.AsyncClient,
    world: World,
    hooks: dict[str, str],
    receiver: Receiver,
    resolver: TableResolver,
    runtime: IntegrationsRuntime,
) -> None:
    """Public at registration, loopback at send: old code let httpx resolve again at send and never checked."""
    resolver.table["rebind.example"] = [PUBLIC]
    await subscribe(client, hooks, f"http://rebind.example:{port_of(receiver)}/hooks", ["case.queued"])
    resolver.table["rebind.example"] = ["127.0.0.1"]
    await queued_case(client, world, "a")
    await runtime.worker.run_once()
    assert receiver.requests == []
    listed = (await client.get("/api/v1/webhook-deliveries", headers=hooks)).json()["items"]
    assert [(d["attempts"], d["last_error"]) for d in listed] == [(1, "destination_refused")]
    assert resolver.lookups.count("rebind.example") == 2  # registration, then the connection


async def test_the_connection_goes_to_the_checked_address(
    client: httpx.AsyncClient,
    world: World,
    hooks: dict[str, str],
    receiver: Receiver,
    resolver: TableResolver,
    runtime: IntegrationsRuntime,
) -> None:
    """The name exists only in the table the policy checked: the request arrives only if the socket connects to
    that checked address instead of resolving the name again (old code resolved through the system and failed)."""
    allow(runtime, "127.0.0.1")
    resolver.table["pinned.example"] = ["127.0.0.1"]
    port = port_of(receiver)
    created = await subscribe(client, hooks, f"http://pinned.example:{port}/hooks", ["case.queued"])
    receiver.secret = created["secret"]
    await queued_case(client, world, "a")
    await runtime.worker.run_once()
    assert [r.status for r in receiver.requests] == [200]
    assert receiver.requests[0].headers["host"] == f"pinned.example:{port}"


async def test_a_bad_row_never_stalls_the_pass(
    client: httpx.AsyncClient,
    world: World,
    receiver: Receiver,
    second_receiver: Receiver,
    runtime: IntegrationsRuntime,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Old code: httpx raised InvalidURL for these rows, the pass's TaskGroup failed, the good deliveries of both
    municipalities stayed pending with 0 attempts, the J-LIS job was skipped, and the bad ones never died."""
    allow(runtime, "127.0.0.1")
    hooks_a = await webhook_key(sessionmaker, world.a)
    hooks_b = await webhook_key(sessionmaker, world.b)
    receiver.secret = (await subscribe(client, hooks_a, receiver.url, ["case.queued"]))["secret"]
    second_receiver.secret = (await subscribe(client, hooks_b, second_receiver.url, ["case.queued"]))[
        "secret"
    ]
    port = port_of(receiver)
    bad_urls = [
        f"http://0177.0.0.1:{port}/hooks",
        f"http://127.0.0.1:{port}/a\r\nb",
        "http://[::1/x",
        "http://127.0.0.1:99999/hooks",
        f"http://127.1:{port}/hooks",
        f"http://\u2460.example:{port}/hooks",
    ]
    bad = {
        await insert_subscription(sessionmaker, runtime, tenant, url)
        for url in bad_urls
        for tenant in (world.a, world.b)
    }
    case_a = await queued_case(client, world, "a")
    case_b = await queued_case(client, world, "b")
    now = clock.now()
    async with unit_of_work(sessionmaker) as session:
        session.add(
            JlisSubmission(
                case_id=case_a["id"],
                municipality_code=world.a.municipality_code,
                status="pending",
                source="adapter",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )

    await runtime.worker.run_once()  # one pass
    assert [e["data"]["case_id"] for e in receiver.accepted] == [case_a["id"]]
    assert [e["data"]["case_id"] for e in second_receiver.accepted] == [case_b["id"]]
    rows = await deliveries_by_subscription(sessionmaker)
    good = [d for sub, ds in rows.items() if sub not in bad for d in ds]
    assert [(d.status, d.attempts) for d in good] == [("succeeded", 1)] * 2
    failed = [d for sub in bad for d in rows[sub]]
    assert len(failed) == len(bad)
    assert {(d.status, d.attempts, d.last_error) for d in failed} == {("pending", 1, "invalid_url")}
    async with sessionmaker() as session:
        submission = await session.get(JlisSubmission, case_a["id"])
    assert submission is not None
    assert submission.receipt_id is not None, "the J-LIS job was skipped"

    clock.shift_for_tests(dt.timedelta(seconds=2))  # past the retry and the horizon
    await runtime.worker.run_once()
    rows = await deliveries_by_subscription(sessionmaker)
    failed = [d for sub in bad for d in rows[sub]]
    assert {(d.status, d.attempts, d.last_error) for d in failed} == {("dead", 2, "invalid_url")}


@pytest.mark.postgresql_backend  # terminating a server backend needs a server
async def test_a_pass_whose_kept_database_connection_died_runs_again_at_once(
    client: httpx.AsyncClient,
    world: World,
    hooks: dict[str, str],
    receiver: Receiver,
    runtime: IntegrationsRuntime,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The delivery stage keeps its database connection between passes (no pool pre-ping on the way from an event's
    commit to its request); when the server has dropped it meanwhile, the same pass runs again on a fresh one."""
    allow(runtime, "127.0.0.1")
    receiver.secret = (await subscribe(client, hooks, receiver.url, ["case.queued"]))["secret"]
    await queued_case(client, world, "a")
    await runtime.worker.run_once()
    assert len(receiver.accepted) == 1
    kept = runtime.worker._kept
    assert kept is not None
    pid = (await kept.get_raw_connection()).driver_connection.get_server_pid()  # type: ignore[union-attr]
    async with sessionmaker() as session:
        await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await queued_case(client, world, "a")
    await runtime.worker.run_once()  # one pass
    assert len(receiver.accepted) == 2
    assert runtime.worker._kept is not None
    assert runtime.worker._kept is not kept
