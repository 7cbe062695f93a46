"""A foreign municipality's integration client sees none of A's cases, events, subscriptions or deliveries."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.db_snapshot import snapshot
from tests.service.integrations.conftest import Receiver, subscribe, webhook_key
from tests.service.integrations.test_backoffice import finalize


async def test_foreign_integration_key_sees_nothing_of_a(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    receiver: Receiver,
    hooks_a: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # B subscribes its own endpoint to everything; A's events must never reach it.
    hooks_b = await webhook_key(sessionmaker, world.b)
    b_sub = await subscribe(client, hooks_b, receiver.url.replace("/hooks", "/b-hooks"))
    case = await finalize(driver)
    # Wait until the J-LIS simulator has produced the card and every event arrived: the database is then quiet.
    await receiver.wait_for(lambda: "card.produced" in {e["type"] for e in receiver.accepted})
    assert all(r.headers.get("madoguchi-signature") for r in receiver.requests)
    # Every request the receiver got was for A's subscription (B's path would carry B's secret and fail as 401).
    assert {r.status for r in receiver.requests} == {200}

    a_sub = (await client.get("/api/v1/webhook-subscriptions", headers=hooks_a)).json()[0]
    a_delivery = (await client.get("/api/v1/webhook-deliveries", headers=hooks_a)).json()["items"][0]
    b_key = world.api_key("b")
    await asyncio.sleep(0.3)
    before = await snapshot(sessionmaker)
    for method, url, body in (
        ("GET", f"/api/v1/webhook-subscriptions/{a_sub['id']}", None),
        ("PATCH", f"/api/v1/webhook-subscriptions/{a_sub['id']}", {"active": False}),
        ("POST", f"/api/v1/webhook-subscriptions/{a_sub['id']}/rotate-secret", None),
        ("POST", f"/api/v1/webhook-deliveries/{a_delivery['id']}/redeliver", None),
    ):
        response = await client.request(method, url, json=body, headers=hooks_b)
        assert response.status_code == 404, (method, url, response.text)
        assert a_sub["id"] not in response.text
    for url in (f"/api/v1/integration/cases/{case['id']}", f"/api/v1/cases/{case['id']}"):
        response = await client.get(url, headers=b_key)
        assert response.status_code == 404
    assert await snapshot(sessionmaker) == before

    lists = {
        "/api/v1/webhook-subscriptions": hooks_b,
        "/api/v1/webhook-deliveries": hooks_b,
        "/api/v1/events": b_key,
        "/api/v1/integration/finalized-cases": b_key,
        "/api/v1/exports/cases": b_key,
    }
    for url, headers in lists.items():
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.text)
        assert case["id"] not in response.text, url
        assert world.a.municipality_code not in response.text, url
    own = await client.get("/api/v1/webhook-subscriptions", headers=hooks_b)
    assert [s["id"] for s in own.json()] == [b_sub["id"]]
    b_deliveries = await client.get("/api/v1/webhook-deliveries", headers=hooks_b)
    assert b_deliveries.json()["items"] == []
    # The positive control: A's key sees A's case in the same lists.
    a_events = await client.get("/api/v1/events", headers=world.api_key("a"))
    assert case["id"] in a_events.text
    a_feed = await client.get("/api/v1/integration/finalized-cases", headers=world.api_key("a"))
    assert case["id"] in a_feed.text
