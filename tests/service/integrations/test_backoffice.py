"""The back office's REST API over a case's whole life: finalized feed, J-LIS (simulated), mail, address change."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.audit.models import AuditEvent
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.integrations.conftest import Receiver

BASE = "/api/v1/integration"


async def finalize(driver: CaseDriver) -> dict[str, Any]:
    """Approve a case and seal its PIN request: finalized for the back office."""
    case = await driver.to_review()
    await driver.officer(case["id"], "approve", attested=True)
    return await driver.finalize(case["id"])


async def state_of(client: httpx.AsyncClient, world: World, case_id: str) -> str:
    response = await client.get(f"{BASE}/cases/{case_id}", headers=world.api_key("a"))
    assert response.status_code == 200, response.text
    return str(response.json()["state"])


async def wait_state(client: httpx.AsyncClient, world: World, case_id: str, state: str) -> None:
    deadline = time.monotonic() + 15
    while (current := await state_of(client, world, case_id)) != state:
        assert time.monotonic() < deadline, f"case stuck in {current}, expected {state}"
        await asyncio.sleep(0.05)


async def to_pre_issue_setup(client: httpx.AsyncClient, world: World, case_id: str) -> None:
    await wait_state(client, world, case_id, "card_produced")
    for status in ("received_by_municipality", "pre_issue_setup_done"):
        r = await client.post(
            f"{BASE}/cases/{case_id}/jlis-status", json={"status": status}, headers=world.api_key("a")
        )
        assert r.status_code == 200, r.text


async def test_finalized_feed_acknowledge_and_jlis_simulator(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    receiver: Receiver,
    hooks_a: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    key = world.api_key("a")
    first = await finalize(driver)
    second = await finalize(driver)
    page = await client.get(f"{BASE}/finalized-cases", params={"limit": 1}, headers=key)
    assert page.status_code == 200
    assert [c["case_id"] for c in page.json()["items"]] == [first["id"]]
    assert page.json()["items"][0]["shinseisho_id"] == first["shinseisho_id"]
    rest = await client.get(
        f"{BASE}/finalized-cases", params={"cursor": page.json()["next_cursor"]}, headers=key
    )
    assert [c["case_id"] for c in rest.json()["items"]] == [second["id"]]

    ack_headers = {**key, "Idempotency-Key": "ack-first-0001"}
    ack = await client.post(
        f"{BASE}/cases/{first['id']}/acknowledge", json={"back_office_ref": "KF-1"}, headers=ack_headers
    )
    assert ack.status_code == 200, ack.text
    assert ack.json()["back_office_ref"] == "KF-1"
    again = await client.post(
        f"{BASE}/cases/{first['id']}/acknowledge", json={"back_office_ref": "KF-1"}, headers=ack_headers
    )
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == ack.json()
    other = await client.post(
        f"{BASE}/cases/{first['id']}/acknowledge", json={"back_office_ref": "KF-2"}, headers=ack_headers
    )
    assert other.status_code == 422
    unacked = await client.get(f"{BASE}/finalized-cases", headers=key)
    assert [c["case_id"] for c in unacked.json()["items"]] == [second["id"]]
    everything = await client.get(
        f"{BASE}/finalized-cases", params={"include_acknowledged": True}, headers=key
    )
    assert len(everything.json()["items"]) == 2

    # The J-LIS simulator accepts the sealed application and reports the card; the system drives the case.
    await wait_state(client, world, first["id"], "card_produced")
    view = (await client.get(f"{BASE}/cases/{first['id']}", headers=key)).json()
    assert view["jlis"]["status"] == "produced"
    assert view["jlis"]["source"] == "adapter"
    assert view["jlis"]["receipt_id"].startswith("jsim-")
    history = await client.get(f"/api/v1/cases/{first['id']}/history", headers=world.h("a", Role.officer))
    entries = {e["action"]: e["actor_kind"] for e in history.json()}
    assert entries["submit_to_jlis"] == "system"
    assert entries["record_card_produced"] == "system"
    await receiver.wait_for(
        lambda: (
            {"case.submitted", "card.produced"}
            <= {e["type"] for e in receiver.accepted if e["data"]["case_id"] == first["id"]}
        )
    )
    async with sessionmaker() as session:
        actions = set(
            (
                await session.execute(select(AuditEvent.action).where(AuditEvent.case_id == first["id"]))
            ).scalars()
        )
    assert {"backoffice.case_acknowledged", "case.submit_to_jlis", "case.record_card_produced"} <= actions

    # A case that is not finalized cannot be acknowledged; a read-only key cannot write.
    open_case = await driver.to_review()
    early = await client.post(f"{BASE}/cases/{open_case['id']}/acknowledge", json={}, headers=key)
    assert early.status_code == 409
    assert early.json()["code"] == "case_not_finalized"
    readonly = await client.post(
        f"{BASE}/cases/{second['id']}/jlis-status",
        json={"status": "produced"},
        headers=world.api_key("a", readonly=True),
    )
    assert readonly.status_code == 403


async def test_mail_returned_after_the_hold_then_counter_pickup(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, receiver: Receiver, hooks_a: dict[str, str]
) -> None:
    key = world.api_key("a")
    case = await finalize(driver)
    await to_pre_issue_setup(client, world, case["id"])
    url = f"{BASE}/cases/{case['id']}"
    dispatched = await client.post(
        f"{url}/mail-dispatch",
        json={"tracking_number": "1234-5678-9012"},
        headers={**key, "Idempotency-Key": "mail-0001"},
    )
    assert dispatched.status_code == 201, dispatched.text
    assert dispatched.json()["state"] == "mailed"
    assert dispatched.json()["mail"]["mail_type"] == "honnin_gentei_tokurei"
    replay = await client.post(
        f"{url}/mail-dispatch",
        json={"tracking_number": "1234-5678-9012"},
        headers={**key, "Idempotency-Key": "mail-0001"},
    )
    assert replay.status_code == 201
    assert replay.headers.get("idempotent-replayed") == "true"
    twice = await client.post(f"{url}/mail-dispatch", json={"tracking_number": "1234-5678-9013"}, headers=key)
    assert twice.status_code == 409

    notice = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)
    held = await client.post(
        f"{url}/mail-tracking", json={"status": "held", "occurred_at": notice.isoformat()}, headers=key
    )
    assert held.status_code == 200, held.text
    assert held.json()["mail"]["hold_until"].startswith("2026-12-12T03:00")
    too_early = await client.post(
        f"{url}/mail-tracking",
        json={
            "status": "returned",
            "occurred_at": (notice + dt.timedelta(days=9)).isoformat(),
            "reason_code": "hold_expired",
        },
        headers=key,
    )
    assert too_early.status_code == 409
    assert too_early.json()["code"] == "hold_not_expired"
    returned = await client.post(
        f"{url}/mail-tracking",
        json={
            "status": "returned",
            "occurred_at": (notice + dt.timedelta(days=10, hours=1)).isoformat(),
            "reason_code": "hold_expired",
        },
        headers=key,
    )
    assert returned.status_code == 200, returned.text
    body = returned.json()
    assert body["state"] == "awaiting_counter_pickup"
    assert body["mail"]["status"] == "returned"
    assert body["mail"]["counter_notice"] == "pickup_at_counter"
    await receiver.wait_for(lambda: "mail.returned" in {e["type"] for e in receiver.accepted})
    event = next(e for e in receiver.accepted if e["type"] == "mail.returned")
    assert event["data"]["reason_code"] == "hold_expired"
    assert "1234-5678-9012" not in str(receiver.accepted)  # tracking numbers stay in the API, not in webhooks


async def test_mail_delivered_closes_and_address_change_cancels(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, receiver: Receiver, hooks_a: dict[str, str]
) -> None:
    key = world.api_key("a")
    delivered_case = await finalize(driver)
    moved_case = await finalize(driver)
    for case in (delivered_case, moved_case):
        await to_pre_issue_setup(client, world, case["id"])
    now = dt.datetime.now(dt.UTC).isoformat()
    url = f"{BASE}/cases/{delivered_case['id']}"
    assert (
        await client.post(f"{url}/mail-dispatch", json={"tracking_number": "AB12345678"}, headers=key)
    ).status_code == 201
    in_transit = await client.post(
        f"{url}/mail-tracking", json={"status": "in_transit", "occurred_at": now}, headers=key
    )
    assert in_transit.json()["mail"]["status"] == "in_transit"
    delivered = await client.post(
        f"{url}/mail-tracking", json={"status": "delivered", "occurred_at": now}, headers=key
    )
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["state"] == "closed"
    late = await client.post(f"{url}/address-change", json={"reason_code": "address_change"}, headers=key)
    assert late.status_code == 409

    moved = f"{BASE}/cases/{moved_case['id']}"
    assert (
        await client.post(f"{moved}/mail-dispatch", json={"tracking_number": "AB12345679"}, headers=key)
    ).status_code == 201
    cancelled = await client.post(
        f"{moved}/address-change", json={"reason_code": "address_change"}, headers=key
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled_address_change"
    assert cancelled.json()["mail"]["status"] == "cancelled"
    assert cancelled.json()["mail"]["counter_notice"] == "address_change_referral"
    after = await client.post(
        f"{moved}/mail-tracking", json={"status": "delivered", "occurred_at": now}, headers=key
    )
    assert after.status_code == 409
    await receiver.wait_for(
        lambda: (
            [e["data"]["state"] for e in receiver.accepted if e["data"]["case_id"] == moved_case["id"]][-1:]
            == ["cancelled_address_change"]
        )
    )
    await receiver.wait_for(
        lambda: (
            "case.closed"
            in [e["type"] for e in receiver.accepted if e["data"]["case_id"] == delivered_case["id"]]
        )
    )
    delivered_events = [e["type"] for e in receiver.accepted if e["data"]["case_id"] == delivered_case["id"]]
    assert delivered_events[-3:] == ["mail.dispatched", "mail.delivered", "case.closed"]
