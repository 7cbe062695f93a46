"""The card work after approval (docs/card-procedures.md): the hub's plan for e-certificates and PINs.

The rules hold whoever calls (here the API, as any device would), a refusal has its own code and writes nothing,
and only planned work can be recorded as done.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from service.cardwork import service as cardwork_service
from tests.factories import World
from tests.service.conftest import CaseDriver

TODAY = dt.date(2026, 12, 3)


@pytest.fixture(autouse=True)
def _fixed_day(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the plan reads the day (in Japan); the rest of the walk keeps the real clock.
    monkeypatch.setattr(cardwork_service, "_today", lambda: TODAY)


async def _approved(driver: CaseDriver, procedure: str) -> str:
    case = await driver.to_review(procedure)
    await driver.officer(case["id"], "approve", attested=True)
    return str(case["id"])


def _ecert(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "certificates": ["sign", "auth"],
        "requester": "holder",
        "under_15": False,
        "adult_ward": False,
        "basic4_changed": False,
        "current_not_after": "2027-01-20",
    }
    return {**body, **over}


async def _plan(world: World, case_id: str, body: dict[str, Any], what: str = "ecert-plan") -> httpx.Response:
    return await world.device_a.post(f"/api/v1/cases/{case_id}/card-work/{what}", json=body)


async def _work(driver: CaseDriver, case_id: str) -> dict[str, Any]:
    response = await driver.world.device_a.get(f"/api/v1/cases/{case_id}")
    return dict((response.json().get("precheck") or {}).get("card_work") or {})


async def test_a_renewal_inside_the_window_renews_both_and_records_only_codes(
    world: World, driver: CaseDriver
) -> None:
    case_id = await _approved(driver, "ecert_issue_renew")
    response = await _plan(world, case_id, _ecert())
    assert response.status_code == 200, response.text
    plan = response.json()
    assert [(p["certificate"], p["action"], p["reason"]) for p in plan["certificates"]] == [
        ("sign", "renew", "within_window"),
        ("auth", "renew", "within_window"),
    ]
    assert plan["renewal_opens"] == "2026-10-20"
    done = await world.device_a.post(
        f"/api/v1/cases/{case_id}/card-work/done", json={"done": ["renew_sign", "renew_auth"]}
    )
    assert done.status_code == 200, done.text
    assert done.json()["done"] == ["renew_auth", "renew_sign"]
    closed = await world.device_a.post(f"/api/v1/cases/{case_id}/close", json={})
    assert closed.status_code == 200, closed.text


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"current_not_after": "2026-12-02"}, [("sign", "issue", "expired"), ("auth", "issue", "expired")]),
        (
            {"current_not_after": None},
            [("sign", "issue", "no_certificate"), ("auth", "issue", "no_certificate")],
        ),
        (
            {"basic4_changed": True},
            [("sign", "issue", "basic4_changed"), ("auth", "renew", "within_window")],
        ),
        ({"certificates": ["auth"], "under_15": True}, [("auth", "renew", "within_window")]),
        # The window's first day (three months before 2027-03-03) is inside it.
        (
            {"current_not_after": "2027-03-03"},
            [("sign", "renew", "within_window"), ("auth", "renew", "within_window")],
        ),
        # Expiry day itself is still a renewal.
        (
            {"current_not_after": "2026-12-03"},
            [("sign", "renew", "within_window"), ("auth", "renew", "within_window")],
        ),
        # The next-generation card's profile opens renewal a year ahead (service/wire/card_profiles.py).
        (
            {"current_not_after": "2027-03-04", "profile": "gen2028"},
            [("sign", "renew", "within_window"), ("auth", "renew", "within_window")],
        ),
    ],
)
async def test_issue_or_renewal_follows_the_dates_and_the_basic_four(
    world: World, driver: CaseDriver, over: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    case_id = await _approved(driver, "ecert_issue_renew")
    response = await _plan(world, case_id, _ecert(**over))
    assert response.status_code == 200, response.text
    assert [(p["certificate"], p["action"], p["reason"]) for p in response.json()["certificates"]] == expected


@pytest.mark.parametrize(
    ("over", "code", "status"),
    [
        ({"requester": "proxy"}, "card_work_proxy_not_allowed", 409),
        ({"requester": "legal_representative"}, "card_work_proxy_not_allowed", 409),
        ({"under_15": True}, "ecert_sign_under_15", 422),
        ({"adult_ward": True}, "ecert_sign_adult_ward", 422),
        ({"current_not_after": "2027-03-04"}, "ecert_renewal_not_open", 409),
        ({"profile": "unknown"}, "ecert_unknown_profile", 422),
    ],
)
async def test_refusals_have_their_own_code_and_change_nothing(
    world: World, driver: CaseDriver, over: dict[str, Any], code: str, status: int
) -> None:
    case_id = await _approved(driver, "ecert_issue_renew")
    before = await world.device_a.get(f"/api/v1/cases/{case_id}")
    response = await _plan(world, case_id, _ecert(**over))
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    after = await world.device_a.get(f"/api/v1/cases/{case_id}")
    assert after.json()["version"] == before.json()["version"]
    assert after.json()["precheck"] == before.json()["precheck"]


async def test_before_the_window_the_refusal_says_when_it_opens(world: World, driver: CaseDriver) -> None:
    case_id = await _approved(driver, "ecert_issue_renew")
    refused = await _plan(world, case_id, _ecert(current_not_after="2027-03-04"))
    assert refused.json()["opens"] == "2026-12-04"


async def test_pin_change_and_reset_are_planned_then_recorded(world: World, driver: CaseDriver) -> None:
    case_id = await _approved(driver, "pin_reset")
    for body in (
        {"pin": "auth", "mode": "change", "requester": "holder"},
        {"pin": "sign", "mode": "reset", "requester": "holder"},
    ):
        response = await _plan(world, case_id, body, "pin-plan")
        assert response.status_code == 200, response.text
        assert response.json()["pin"] == body["pin"]
    assert (await _work(driver, case_id))["planned"] == ["change_auth", "reset_sign"]
    proxy = await _plan(world, case_id, {"pin": "auth", "mode": "reset", "requester": "proxy"}, "pin-plan")
    assert proxy.json()["code"] == "card_work_proxy_not_allowed"
    unplanned = await world.device_a.post(
        f"/api/v1/cases/{case_id}/card-work/done", json={"done": ["reset_juki"]}
    )
    assert unplanned.status_code == 422
    assert unplanned.json()["code"] == "card_work_invalid_done"
    done = await world.device_a.post(
        f"/api/v1/cases/{case_id}/card-work/done", json={"done": ["change_auth"]}
    )
    assert done.json()["done"] == ["change_auth"]


async def test_a_lock_found_during_a_renewal_opens_the_reset_in_the_same_case(
    world: World, driver: CaseDriver
) -> None:
    case_id = await _approved(driver, "ecert_issue_renew")
    response = await _plan(
        world, case_id, {"pin": "sign", "mode": "reset", "requester": "holder"}, "pin-plan"
    )
    assert response.status_code == 200, response.text


async def test_card_work_needs_the_approval_and_its_procedure(world: World, driver: CaseDriver) -> None:
    early = await driver.create("ecert_issue_renew")
    response = await _plan(world, early["id"], _ecert())
    assert response.json()["code"] == "card_work_wrong_case"
    other = await _approved(driver, "pin_reset")
    response = await _plan(world, other, _ecert())
    assert response.json()["code"] == "card_work_wrong_case"


async def test_only_the_cases_own_counter_does_card_work(world: World, driver: CaseDriver) -> None:
    case_id = await _approved(driver, "ecert_issue_renew")
    foreign = await world.device_b.post(f"/api/v1/cases/{case_id}/card-work/ecert-plan", json=_ecert())
    assert foreign.status_code == 404
