"""The officer queue: who gets offers, timeouts and penalties, conflicts of interest, wrap-up, reassignment, estimates."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Principal, PrincipalKind, Role
from service.audit import service as audit
from service.cases import service as case_service
from service.cases.lifecycle import Action
from service.cases.models import Case
from service.config import Settings
from service.db import unit_of_work
from service.kit import clock
from service.queue import bell, dispatch, repository
from service.queue.models import CaseOffer
from tests.factories import World
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver

PRESENCE = "/api/v1/officers/me/presence"
OFFER = "/api/v1/officers/me/offer"


async def _queued(driver: CaseDriver, procedure: str = "pin_reset") -> dict[str, Any]:
    case = await driver.create(procedure)
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    await driver.device(case["id"], "consents", consents=CONSENTS)
    return await driver.device(case["id"], "request-verification")


async def _status(client: httpx.AsyncClient, headers: dict[str, str], status: str) -> None:
    response = await client.put(PRESENCE, json={"status": status}, headers=headers)
    assert response.status_code == 200, response.text


async def _offer(
    client: httpx.AsyncClient, headers: dict[str, str], wait: float = 0
) -> dict[str, Any] | None:
    response = await client.get(OFFER, params={"wait": wait}, headers=headers)
    assert response.status_code in (200, 204), response.text
    return dict(response.json()) if response.status_code == 200 else None


async def test_no_offer_while_on_break_then_offer_when_available(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    officer = world.h("a", Role.officer)
    await _status(client, officer, "on_break")
    case = await _queued(driver)
    assert await _offer(client, officer) is None
    await _status(client, officer, "available")
    offer = await _offer(client, officer)
    assert offer is not None
    assert offer["case_id"] == case["id"]
    assert offer["procedure"] == "pin_reset"


async def test_long_poll_receives_offer_made_meanwhile(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    import asyncio

    officer = world.h("a", Role.officer)
    await _status(client, officer, "available")
    waiting = asyncio.create_task(_offer(client, officer, wait=5))
    await asyncio.sleep(0.3)
    case = await _queued(driver)
    offer = await waiting
    assert offer is not None
    assert offer["case_id"] == case["id"]


async def test_watching_a_shown_offer_returns_when_it_is_withdrawn_and_brings_the_next(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    """A console showing an offer learns at once that the hub closed it, so no next offer waits unseen (#18)."""
    import asyncio

    officer = world.h("a", Role.officer)
    await _status(client, officer, "available")
    first = await _queued(driver)
    offer = await _offer(client, officer)
    assert offer is not None
    assert offer["case_id"] == first["id"]

    # While the offer is pending, watching it holds the request and then answers the same offer.
    same = await client.get(OFFER, params={"wait": 0.2, "shown": offer["id"]}, headers=officer)
    assert same.status_code == 200
    assert same.json()["id"] == offer["id"]

    watching = asyncio.create_task(
        client.get(OFFER, params={"wait": 10, "shown": offer["id"]}, headers=officer)
    )
    await driver.device(first["id"], "withdraw", reason_code="applicant_request")
    closed = await asyncio.wait_for(watching, 10)
    assert closed.status_code == 204

    # The officer is free again and the console, told so, looks for the next offer.
    second = await _queued(driver)
    found = await _offer(client, officer, wait=5)
    assert found is not None
    assert found["case_id"] == second["id"]


async def test_stale_heartbeat_counts_as_offline(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    officer = world.h("a", Role.officer)
    await _status(client, officer, "available")
    clock.shift_for_tests(dt.timedelta(seconds=46))
    await _queued(driver)
    assert await _offer(client, officer) is None
    overview = (await client.get("/api/v1/queue", headers=world.h("a", Role.supervisor))).json()
    assert overview["officers"][0]["status"] == "available"
    assert overview["officers"][0]["effective_status"] == "offline"


async def test_lapsed_offer_goes_to_another_officer_with_penalty(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, settings: Settings
) -> None:
    first = world.h("a", Role.officer)
    second = await driver.new_officer("officer-two")
    await _status(client, first, "available")
    case = await _queued(driver)
    offer = await _offer(client, first)
    assert offer is not None
    await _status(client, second, "available")
    assert await _offer(client, second) is None  # the case is offered to one officer at a time
    clock.shift_for_tests(dt.timedelta(seconds=settings.offer_accept_timeout_seconds + 1))
    await _status(client, first, "available")  # heartbeats keep the console alive; the dispatcher runs
    await _status(client, second, "available")
    moved = await _offer(client, second)
    assert moved is not None
    assert moved["case_id"] == case["id"]
    late = await client.post(f"/api/v1/offers/{offer['id']}/accept", headers=first)
    assert late.status_code == 409
    assert late.json()["code"] == "offer_expired"
    overview = (await client.get("/api/v1/queue", headers=world.h("a", Role.supervisor))).json()
    penalised = [o for o in overview["officers"] if o["penalty_until"] is not None]
    assert len(penalised) == 1


@pytest.mark.postgresql_backend  # row locks: SQLite serialises its writers instead
async def test_an_open_dispatch_hides_no_officer_from_the_request_beside_it(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """A heartbeat's dispatch with nothing to offer, still in its transaction, must not hide the officers from a
    clerk's request at that moment: it once locked every eligible officer, and the case waited for the tick (#18)."""
    officer = world.h("a", Role.officer)
    await _status(client, officer, "available")
    async with sessionmaker() as holder:
        await dispatch.dispatch(holder, municipality_code=world.a.municipality_code, settings=settings)
        case = await _queued(driver)
        offer = await _offer(client, officer)
        await holder.rollback()
    assert offer is not None
    assert offer["case_id"] == case["id"]


async def test_the_offer_watcher_rings_for_an_offer_made_by_another_process(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """An offer committed by another hub process rings no bell here: the watcher's one look finds it for every
    waiting long-poll (they no longer look each for themselves once a second, #18)."""
    officer = world.h("a", Role.officer)
    presence = await client.put(PRESENCE, json={"status": "on_break"}, headers=officer)
    officer_id = presence.json()["account_id"]
    case = await _queued(driver)
    waiting = bell.waiter(officer_id)
    bell.saw(waiting, None)
    watcher = asyncio.create_task(bell.watch(sessionmaker, 0.05))
    try:
        await asyncio.sleep(0.2)
        assert not waiting.is_set()  # nothing changed: no ring
        now = clock.now()
        async with unit_of_work(sessionmaker) as session:  # as another process would: no bell rung here
            session.add(
                CaseOffer(
                    id="offer_from_the_other_process",
                    case_id=case["id"],
                    officer_id=officer_id,
                    municipality_code=world.a.municipality_code,
                    outcome="pending",
                    offered_at=now,
                    expires_at=now + dt.timedelta(seconds=20),
                )
            )
        await asyncio.wait_for(waiting.wait(), timeout=5)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        bell.release(officer_id, waiting)


@pytest.mark.postgresql_backend  # row locks: SQLite serialises its writers instead
async def test_a_withdrawal_and_a_decline_at_one_moment_do_not_deadlock(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The decline holds the offer and then appends to the audit chain; the withdrawal used to append first and
    then wait for the offer: a deadlock PostgreSQL broke after 1 s by failing one of them (#18)."""
    officer = world.h("a", Role.officer)
    await _status(client, officer, "available")
    case = await _queued(driver)
    offer = await _offer(client, officer)
    assert offer is not None
    async with unit_of_work(sessionmaker) as decline:
        assert await repository.offer_for_update(decline, offer["id"]) is not None
        withdrawal = asyncio.create_task(
            driver.device(case["id"], "withdraw", reason_code="applicant_request")
        )
        await asyncio.sleep(0.3)  # the withdrawal now waits for the offer, holding nothing the decline needs
        started = clock.now()
        await audit.record(
            decline,
            actor=dispatch.system(),
            action="queue.offer_declined",
            municipality_code=world.a.municipality_code,
            case_id=case["id"],
        )
        assert (clock.now() - started).total_seconds() < 0.5
    withdrawn = await asyncio.wait_for(withdrawal, timeout=10)
    assert withdrawn["state"] == "withdrawn"


async def test_conflict_of_interest_pair_never_offered_again(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    officer = world.h("a", Role.officer)
    await _status(client, officer, "available")
    case = await _queued(driver)
    offer = await _offer(client, officer)
    assert offer is not None
    declined = await client.post(
        f"/api/v1/offers/{offer['id']}/decline", json={"reason": "conflict_of_interest"}, headers=officer
    )
    assert declined.status_code == 200
    assert declined.json()["outcome"] == "conflict_of_interest"
    await _status(client, officer, "available")
    assert await _offer(client, officer) is None
    refused = await client.post(
        f"/api/v1/cases/{case['id']}/reassign",
        json={"officer_id": offer["officer_id"], "reason_code": "workload"},
        headers=world.h("a", Role.supervisor),
    )
    assert refused.status_code == 422
    # Another case still reaches this officer.
    other = await _queued(driver)
    again = await _offer(client, officer)
    assert again is not None
    assert again["case_id"] == other["id"]


async def test_one_live_case_per_officer(client: httpx.AsyncClient, world: World, driver: CaseDriver) -> None:
    officer = world.h("a", Role.officer)
    first = await _queued(driver)
    await driver.take_offer(first["id"], officer)
    await _queued(driver)
    await _status(client, officer, "available")
    assert await _offer(client, officer) is None
    await driver.officer(first["id"], "abort", reason_code="network")
    await _status(client, officer, "available")
    assert await _offer(client, officer) is not None


async def test_wrapup_after_decision(
    app: Any, client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    app.state.settings.officer_wrapup_seconds = 30
    officer = world.h("a", Role.officer)
    case = await driver.to_review("pin_reset")
    await driver.officer(case["id"], "approve", attested=True)
    await _queued(driver)
    await _status(client, officer, "available")
    assert await _offer(client, officer) is None
    clock.shift_for_tests(dt.timedelta(seconds=31))
    await _status(client, officer, "available")
    assert await _offer(client, officer) is not None


async def test_supervisor_reassign_needs_reason_and_goes_to_named_officer(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    second = await driver.new_officer("officer-two")
    me = (await client.get("/api/v1/auth/me", headers=second)).json()
    case = await _queued(driver)
    url = f"/api/v1/cases/{case['id']}/reassign"
    supervisor = world.h("a", Role.supervisor)
    assert (await client.post(url, json={"officer_id": me["id"]}, headers=supervisor)).status_code == 422
    assert (
        await client.post(
            url, json={"officer_id": me["id"], "reason_code": "workload"}, headers=world.h("a", Role.officer)
        )
    ).status_code == 403
    moved = await client.post(
        url, json={"officer_id": me["id"], "reason_code": "workload"}, headers=supervisor
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["assigned_by"] is not None
    offer = await _offer(client, second)
    assert offer is not None
    assert offer["case_id"] == case["id"]
    foreign = await client.post(
        url, json={"officer_id": me["id"], "reason_code": "workload"}, headers=world.h("b", Role.supervisor)
    )
    assert foreign.status_code == 404


async def test_queue_position_and_estimate(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    officer = world.h("a", Role.officer)
    # One decided case gives the estimator a handling time.
    done = await driver.to_review("pin_reset")
    clock.shift_for_tests(dt.timedelta(seconds=120))
    await driver.officer(done["id"], "approve", attested=True)
    await _status(client, officer, "on_break")
    first, second = await _queued(driver), await _queued(driver)
    pos = (await world.device_a.get(f"/api/v1/cases/{second['id']}/queue-position")).json()
    assert pos["position"] == 2
    assert pos["available_officers"] == 0
    assert pos["estimated_wait_seconds"] is None  # nobody available: no honest estimate
    await _status(client, officer, "available")
    pos1 = (await world.device_a.get(f"/api/v1/cases/{first['id']}/queue-position")).json()
    assert pos1["offered"] is True
    assert pos1["estimated_wait_seconds"] == 0
    pos2 = (await world.device_a.get(f"/api/v1/cases/{second['id']}/queue-position")).json()
    assert pos2["position"] == 2
    assert pos2["estimated_wait_seconds"] == pytest.approx(120, abs=5)
    assert (await world.device_b.get(f"/api/v1/cases/{second['id']}/queue-position")).status_code == 404


async def test_offers_are_random_not_round_robin(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    officers = [
        world.h("a", Role.officer),
        await driver.new_officer("officer-two"),
        await driver.new_officer("officer-three"),
    ]
    ids = [(await client.get("/api/v1/auth/me", headers=h)).json()["id"] for h in officers]
    picks: list[str] = []
    for _ in range(30):
        for headers in officers:
            await _status(client, headers, "available")
        case = await _queued(driver)
        owners = [i for i, h in zip(ids, officers, strict=True) if (await _offer(client, h)) is not None]
        assert len(owners) == 1  # one case, one offer
        picks.append(owners[0])
        await driver.device(case["id"], "withdraw", reason_code="applicant_request")
    counts = Counter(picks)
    # Loose: every officer is picked sometimes (a fair draw fails this ~1 in 4,000 runs) ...
    assert all(counts[i] >= 2 for i in ids), counts
    # ... and the order is not a fixed rotation: a rotation of three officers shows only three distinct
    # successive pairs, a fair draw shows more.
    assert len(set(itertools.pairwise(picks))) > 3


async def test_clerk_and_foreign_roles_have_no_queue(client: httpx.AsyncClient, world: World) -> None:
    assert (
        await client.put(PRESENCE, json={"status": "available"}, headers=world.h("a", Role.supervisor))
    ).status_code == 403
    assert (await client.get(OFFER, headers=world.h("a", Role.clerk))).status_code == 403
    assert (await world.device_a.get("/api/v1/queue")).status_code == 403
    assert (await client.get("/api/v1/queue", headers=world.admin_headers)).status_code == 403


async def test_supervisor_sees_every_officer_by_name_and_offices_by_name(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    await _status(client, world.h("a", Role.officer), "available")
    await driver.new_officer("officer-never-seen")  # never sent a heartbeat: listed, offline
    case = await _queued(driver)
    overview = (await client.get("/api/v1/queue", headers=world.h("a", Role.supervisor))).json()
    names = {o["display_name"]: o for o in overview["officers"]}
    assert names["試験 officer"]["effective_status"] == "available"
    assert names["追加職員"]["effective_status"] == "offline"
    assert names["追加職員"]["heartbeat_at"] is None
    row = next(r for r in overview["queued"] if r["case_id"] == case["id"])
    assert row["post_office_name"] == "甲市郵便局"
    assert row["offered_to_name"] in (None, "試験 officer")
    assert overview["live"] == []


async def test_a_case_queued_outside_the_rest_route_is_offered_too(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    # The queue's bookkeeping belongs to the transition itself, not to the route that happened to call it.
    officer = world.h("a", Role.officer)
    await _status(client, officer, "available")
    case = await driver.create("pin_reset")
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    await driver.device(case["id"], "consents", consents=CONSENTS)
    device = Principal(kind=PrincipalKind.device, id=world.a.device_id, post_office_id=world.a.post_office_id)
    async with unit_of_work(sessionmaker) as session:
        current = await session.get(Case, case["id"])
        assert current is not None
        await case_service.act(
            session,
            principal=device,
            case=current,
            action=Action.request_verification,
            reason_code=None,
            attested=False,
            expected_version=None,
            answers=None,
            settings=settings,
        )
    offer = await _offer(client, officer)
    assert offer is not None
    assert offer["case_id"] == case["id"]
