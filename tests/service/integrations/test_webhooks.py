"""Signed webhooks from the outbox to a real receiver: signatures, replays, retries in order, dead letters."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import itertools
import json
import time
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.config import Settings
from service.idempotency.models import IdempotencyRecord
from service.integrations.runtime import IntegrationsRuntime
from service.outbox.models import OutboxEvent, WebhookSubscription
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.integrations.conftest import Receiver, webhook_key

ALLOWED_DATA_KEYS = {
    "case_id",
    "reference",
    "case_version",
    "procedure",
    "post_office_id",
    "action",
    "from_state",
    "state",
    "decision",
    "reason_code",
}


async def decide(driver: CaseDriver, *, approve: bool = True) -> dict[str, Any]:
    """A case through review to an officer's decision."""
    case = await driver.to_review()
    if approve:
        return await driver.officer(case["id"], "approve", attested=True)
    return await driver.officer(case["id"], "reject", attested=True, reason_code="document_expired")


async def test_signed_minimal_payload_and_replays_refused(
    driver: CaseDriver, receiver: Receiver, hooks_a: dict[str, str]
) -> None:
    case = await decide(driver)
    await receiver.wait_for(lambda: [e["type"] for e in receiver.accepted] == ["case.queued", "case.decided"])
    first = receiver.requests[0]
    assert first.status == 200
    assert first.headers["content-type"] == "application/json"
    assert first.headers["madoguchi-event-id"] == receiver.accepted[0]["id"]
    assert first.headers["madoguchi-event-type"] == "case.queued"
    assert first.headers["madoguchi-delivery-attempt"] == "1"
    decided = receiver.accepted[1]
    assert decided["data"]["case_id"] == case["id"]
    assert decided["data"]["reference"] == case["reference"]
    assert decided["data"]["decision"] == "approved"
    assert decided["data"]["case_version"] == case["version"]
    assert decided["municipality_code"] == driver.world.a.municipality_code
    for event in receiver.accepted:
        assert set(event) == {"id", "type", "occurred_at", "municipality_code", "data"}
        assert set(event["data"]) == ALLOWED_DATA_KEYS
    # The 23-digit 申請書ID is not in any body (nor is any 12-digit number).
    assert case["shinseisho_id"] not in b"".join(r.body for r in receiver.requests).decode()

    replayed = {k: v for k, v in first.headers.items() if k not in ("content-length", "host")}
    async with httpx.AsyncClient() as raw:
        # The very same signed request again (a replay) is refused …
        replay = await raw.post(receiver.url, content=first.body, headers=replayed)
        assert replay.status_code == 409
        # … a changed body fails the signature …
        tampered = first.body.replace(b"case.queued", b"case.decided")
        changed = await raw.post(receiver.url, content=tampered, headers=replayed)
        assert changed.status_code == 401
        # … and a correctly signed request outside the replay window is stale.
        old = int(time.time()) - 3600
        mac = hmac.new(receiver.secret.encode(), f"{old}.".encode() + first.body, hashlib.sha256).hexdigest()
        stale = await raw.post(
            receiver.url, content=first.body, headers={"Madoguchi-Signature": f"t={old},v1={mac}"}
        )
        assert stale.status_code == 400
    assert len(receiver.accepted) == 2


async def test_receiver_down_three_times_then_up_every_event_in_order(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    receiver: Receiver,
    hooks_a: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    receiver.fail_next = 3
    first = await decide(driver)
    second = await decide(driver, approve=False)
    await driver.finalize(first["id"])
    async with sessionmaker() as session:
        written = (await session.execute(select(OutboxEvent).order_by(OutboxEvent.seq))).scalars().all()
    await receiver.wait_for(lambda: {e["id"] for e in receiver.accepted} >= {e.event_id for e in written})
    assert [r.status for r in receiver.requests[:3]] == [503, 503, 503]
    for case_id in (first["id"], second["id"]):
        versions = [e["data"]["case_version"] for e in receiver.accepted if e["data"]["case_id"] == case_id]
        assert versions == sorted(versions), f"out of order for {case_id}: {versions}"
        expected = [e.payload["data"]["case_version"] for e in written if e.case_id == case_id]
        assert versions[: len(expected)] == expected
    # Each event reached the receiver only after every earlier event of its case had been accepted.
    position = {e["id"]: i for i, e in enumerate(receiver.accepted)}
    for earlier, later in itertools.pairwise(written):
        if earlier.case_id == later.case_id:
            assert position[earlier.event_id] < position[later.event_id]
    # The receiver records an event before the hub has written down that response: wait for the hub's record.
    # (The J-LIS simulator may have added events since `written` was read: only those are compared.)
    wanted = {e.event_id for e in written}
    items: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while True:
        deliveries = await client.get("/api/v1/webhook-deliveries", headers=hooks_a)
        assert deliveries.status_code == 200
        items = [d for d in deliveries.json()["items"] if d["event_id"] in wanted]
        if len(items) == len(written) and {d["status"] for d in items} == {"succeeded"}:
            break
        assert time.monotonic() < deadline, f"deliveries not recorded: {items}"
        await asyncio.sleep(0.05)
    # The three refusals were attempts that the hub counted and retried; every delivery ended in a 200. (Counted
    # per event: under load a refusal may have gone to a J-LIS event written after `written` was read.)
    refused = collections.Counter(json.loads(r.body)["id"] for r in receiver.requests if r.status == 503)
    assert sum(refused.values()) == 3
    assert {d["event_id"]: d["attempts"] for d in items} == {
        d["event_id"]: 1 + refused[d["event_id"]] for d in items
    }
    assert {d["status"] for d in items} == {"succeeded"}
    assert {d["last_status_code"] for d in items} == {200}


async def test_dead_letter_holds_the_case_back_until_redelivered(
    client: httpx.AsyncClient, driver: CaseDriver, receiver: Receiver, hooks_a: dict[str, str]
) -> None:
    receiver.fail_next = 10_000  # down for longer than the retry horizon (4 s in these tests)
    case = await decide(driver)
    dead: list[dict[str, Any]] = []

    async def dead_letters() -> list[dict[str, Any]]:
        response = await client.get("/api/v1/webhook-deliveries", params={"status": "dead"}, headers=hooks_a)
        assert response.status_code == 200
        return list(response.json()["items"])

    deadline = time.monotonic() + 20
    while not dead and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        dead = await dead_letters()
    assert dead, "no dead letter after the horizon"
    assert dead[0]["event_type"] == "case.queued"
    assert dead[0]["attempts"] >= 3
    # The later event of the same case waits behind the dead letter: never delivered before it.
    pending = await client.get("/api/v1/webhook-deliveries", params={"status": "pending"}, headers=hooks_a)
    assert [d["event_type"] for d in pending.json()["items"]] == ["case.decided"]
    # Still down while redelivering: the delivery stays pending, so a second redeliver is refused. (With the
    # receiver already up, the worker could deliver it between the two calls, and redelivering a delivered
    # event is allowed.)
    redo = await client.post(f"/api/v1/webhook-deliveries/{dead[0]['id']}/redeliver", headers=hooks_a)
    assert redo.status_code == 200, redo.text
    assert redo.json()["status"] == "pending"
    again = await client.post(f"/api/v1/webhook-deliveries/{dead[0]['id']}/redeliver", headers=hooks_a)
    assert again.status_code == 409
    receiver.fail_next = 0
    await receiver.wait_for(lambda: [e["type"] for e in receiver.accepted] == ["case.queued", "case.decided"])
    assert receiver.accepted[1]["data"]["case_id"] == case["id"]


async def test_subscription_filters_types_and_pauses(
    client: httpx.AsyncClient, driver: CaseDriver, receiver: Receiver, hooks_a: dict[str, str]
) -> None:
    subs = (await client.get("/api/v1/webhook-subscriptions", headers=hooks_a)).json()
    assert len(subs) == 1
    assert "secret" not in subs[0]
    sub_id = subs[0]["id"]
    narrowed = await client.patch(
        f"/api/v1/webhook-subscriptions/{sub_id}", json={"event_types": ["case.decided"]}, headers=hooks_a
    )
    assert narrowed.status_code == 200
    assert narrowed.json()["event_types"] == ["case.decided"]
    await decide(driver)
    await receiver.wait_for(lambda: len(receiver.accepted) == 1)
    assert receiver.accepted[0]["type"] == "case.decided"
    rotated = await client.post(f"/api/v1/webhook-subscriptions/{sub_id}/rotate-secret", headers=hooks_a)
    assert rotated.status_code == 200
    receiver.secret = rotated.json()["secret"]
    paused = await client.patch(
        f"/api/v1/webhook-subscriptions/{sub_id}", json={"active": False}, headers=hooks_a
    )
    assert paused.json()["active"] is False
    paused_case = await decide(driver)
    await asyncio.sleep(0.5)  # several worker passes
    # Events of a paused subscription are not queued for it.
    listed = await client.get(
        "/api/v1/webhook-deliveries", params={"case_id": paused_case["id"]}, headers=hooks_a
    )
    assert listed.json()["items"] == []
    resumed = await client.patch(
        f"/api/v1/webhook-subscriptions/{sub_id}", json={"active": True}, headers=hooks_a
    )
    assert resumed.json()["active"] is True
    resumed_case = await decide(driver)
    await receiver.wait_for(lambda: len(receiver.accepted) == 2)
    assert receiver.accepted[1]["data"]["case_id"] == resumed_case["id"]
    # Signed with the rotated secret (the receiver verified it with the new one).
    assert receiver.requests[-1].status == 200
    # Officers and other roles cannot manage webhooks.
    officer = await client.get("/api/v1/webhook-subscriptions", headers=driver.world.h("a", Role.officer))
    assert officer.status_code == 403
    bad = await client.post(
        "/api/v1/webhook-subscriptions",
        json={"url": "ftp://example.invalid/x", "event_types": ["case.decided"]},
        headers=hooks_a,
    )
    assert bad.status_code == 422


async def test_two_workers_share_the_outbox_without_double_sends(
    app: FastAPI,
    settings: Settings,
    driver: CaseDriver,
    receiver: Receiver,
    hooks_a: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # A second worker on the same database, as a second hub process would run (SKIP LOCKED on PostgreSQL).
    second = IntegrationsRuntime.build(settings, app.state.sessionmaker)
    second.worker.start()
    try:
        receiver.fail_next = 2
        cases = [await decide(driver, approve=index % 2 == 0) for index in range(3)]
        async with sessionmaker() as session:
            written = (await session.execute(select(OutboxEvent).order_by(OutboxEvent.seq))).scalars().all()
        await receiver.wait_for(lambda: {e["id"] for e in receiver.accepted} >= {e.event_id for e in written})
    finally:
        await second.stop()
    assert receiver.duplicates == 0
    assert len([r for r in receiver.requests if r.status == 200]) == len(written)
    for case in cases:
        versions = [
            e["data"]["case_version"] for e in receiver.accepted if e["data"]["case_id"] == case["id"]
        ]
        assert versions == sorted(versions)
        assert len(versions) == 2


async def test_idempotent_subscription_replays_the_secret_without_storing_it(
    client: httpx.AsyncClient,
    world: World,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    headers = {**await webhook_key(sessionmaker, world.a), "Idempotency-Key": "subscribe-0001"}
    body = {"url": receiver.url, "event_types": ["case.finalized"]}
    first = await client.post("/api/v1/webhook-subscriptions", json=body, headers=headers)
    again = await client.post("/api/v1/webhook-subscriptions", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert first.json()["secret"].startswith("whsec_")
    async with sessionmaker() as session:
        stored = (await session.execute(select(IdempotencyRecord))).scalars().all()
        subscriptions = (await session.execute(select(WebhookSubscription))).scalars().all()
    assert len(subscriptions) == 1
    assert [r.response["secret"] for r in stored] == [None]
    assert first.json()["secret"].encode() not in subscriptions[0].secret_ciphertext
