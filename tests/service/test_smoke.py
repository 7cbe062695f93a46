"""The whole happy path of a card application through the API, end to end in process."""

from __future__ import annotations

import httpx

from service.accounts.roles import Role
from tests.factories import World
from tests.service.conftest import CaseDriver


async def test_card_application_happy_path(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    case = await driver.to_review()
    assert case["state"] == "officer_review"
    approved = await driver.officer(case["id"], "approve", attested=True)
    assert approved["state"] == "approved"
    assert approved["decision"] == "approved"
    sealed = await driver.finalize(case["id"])
    assert sealed["state"] == "pin_request_sealed"
    history = await client.get(f"/api/v1/cases/{case['id']}/history", headers=world.h("a", Role.officer))
    states = [e["state"] for e in history.json()]
    assert states == [
        "draft", "checked_in", "eligibility_precheck", "queued_for_officer", "session_live",
        "evidence_captured", "officer_review", "approved", "pin_request_sealed",
    ]  # fmt: skip
