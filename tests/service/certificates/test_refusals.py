"""Every refusal the municipality applies, decided at the hub; the terminal gets only neutral words and no receipt."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from service.integrations.resident import ResidentStatus
from service.kit import clock
from service.wire.certificates import REFUSAL_WORDING, RefusalCode
from tests.service.certificates.conftest import Office

ASK_COUNTER = REFUSAL_WORDING[RefusalCode.support_measure]
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("moved_out", {"status": ResidentStatus.moved_out}, {}),
    ("moving_out", {"status": ResidentStatus.moving_out}, {}),
    ("moving_out", {"household_moving_out": True}, {}),
    ("support_measure", {"support_measure": True}, {}),
    ("deceased", {"status": ResidentStatus.deceased}, {}),
    ("card_issued_today", {"card_issued_on": None}, {}),
    ("no_registered_honseki", {"honseki": None}, {"kind": "koseki_zenbu", "scope": None}),
]


async def test_record_refusals_are_neutral_at_the_terminal(office: Office) -> None:
    today = clock.now().astimezone(dt.timezone(dt.timedelta(hours=9))).date()
    for code, record, choice in CASES:
        if "card_issued_on" in record:
            record = {"card_issued_on": today}
        answer = await office.request(office.holder(**record), **choice)
        assert answer["state"] == "refused", (code, answer)
        assert answer["receipt"] is None
        assert answer["refusal"] == code
        assert (answer["message_ja"], answer["message_en"]) == REFUSAL_WORDING[RefusalCode(code)]
        if code in ("support_measure", "moved_out", "deceased", "no_registered_honseki"):
            # The terminal cannot tell a 支援措置 from any other record-based refusal.
            assert (answer["message_ja"], answer["message_en"]) == ASK_COUNTER
    # The same resident with a registered 本籍 gets the 戸籍 certificate.
    assert (await office.request(office.holder(), kind="koseki_zenbu", scope=None))[
        "state"
    ] == "receipt_issued"


async def test_under_15_only_where_the_municipality_says_so(office: Office) -> None:
    child = office.holder(birth_date=clock.now().date().replace(year=clock.now().year - 10))
    assert (await office.request(child))["state"] == "receipt_issued"
    await office.configure(minimum_age=15)
    answer = await office.request(child)
    assert answer["refusal"] == "under_age"
    assert answer["receipt"] is None


async def test_unknown_card_and_household_member_in_support_measure(office: Office) -> None:
    stranger = office.holder()
    office.register._holders.clear()  # the card is valid, but nobody here holds it
    assert (await office.request(stranger))["refusal"] == "not_resident"
    head = office.holder()
    office.holder(household_id=head.record.household_id, relationship="子", support_measure=True)
    assert (await office.request(head, scope="self"))["state"] == "receipt_issued"
    household = await office.request(head, scope="household")
    assert household["refusal"] == "support_measure"


async def _open(office: Office, **choice: Any) -> httpx.Response:
    body = {"municipality_code": office.code, "kind": "juminhyo", "scope": "self", "count": 1, **choice}
    return await office.kiosk.post("/api/v1/certificates/requests", json=body)


async def test_choices_hours_and_maintenance_refused_before_the_card(office: Office) -> None:
    refused = await _open(office, options=["kojin_bango"])
    assert refused.status_code == 409
    assert refused.json()["refusal"] == "option_not_offered"
    assert (await _open(office, scope=None)).json()["refusal"] == "option_not_offered"
    assert (await _open(office, kind="inkan", scope=None, count=9)).json()["refusal"] == "kind_not_offered"
    now = clock.now()
    await office.configure(
        maintenance=[
            {
                "starts_at": (now - dt.timedelta(minutes=5)).isoformat(),
                "ends_at": (now + dt.timedelta(hours=1)).isoformat(),
            }
        ]
    )
    closed = await _open(office)
    assert closed.json()["refusal"] == "maintenance"
    assert closed.json()["message_ja"]
    catalogue = await office.kiosk.get(
        "/api/v1/certificates/catalogue", params={"municipality_code": office.code}
    )
    assert catalogue.json()["open_now"] is False
    assert catalogue.json()["closed_reason"] == "maintenance"
    local_today = now.astimezone(dt.timezone(dt.timedelta(hours=9)))
    await office.configure(maintenance=[], closed_days=[f"{local_today:%m-%d}"])
    assert (await _open(office)).json()["refusal"] == "outside_service_hours"
    await office.configure(closed_days=[])
    await office.configure(my_number_selectable=True)
    assert (await _open(office, options=["kojin_bango"])).status_code == 201


async def test_card_proof_over_another_nonce_is_refused_and_the_nonce_is_single_use(office: Office) -> None:
    holder = office.holder()
    opened = (await _open(office)).json()
    wrong = holder.prove(opened, nonce="not-the-hubs-nonce")
    answered = await office.kiosk.post(
        f"/api/v1/certificates/requests/{opened['request_id']}/proof", json=wrong
    )
    assert answered.json()["refusal"] == "card_proof_failed"
    again = await office.kiosk.post(
        f"/api/v1/certificates/requests/{opened['request_id']}/proof", json=holder.prove(opened)
    )
    assert again.status_code == 409
    assert again.json()["code"] == "certificate_challenge_used"
    other_kiosk = office.world.device_a
    fresh = (await _open(office)).json()
    foreign = await other_kiosk.post(
        f"/api/v1/certificates/requests/{fresh['request_id']}/proof", json=holder.prove(fresh)
    )
    assert foreign.status_code == 404
    clock.shift_for_tests(dt.timedelta(minutes=6))
    late = await office.kiosk.post(
        f"/api/v1/certificates/requests/{fresh['request_id']}/proof", json=holder.prove(fresh)
    )
    assert late.status_code == 409
    assert late.json()["code"] == "certificate_challenge_expired"
