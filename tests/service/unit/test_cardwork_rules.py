"""The card-work rules on their own (service/cardwork/rules.py): the window's edges, month ends, the pre-check."""

from __future__ import annotations

import datetime as dt

import pytest

from service.cardwork import rules
from service.cardwork.exceptions import ProxyNotAllowed, RenewalNotOpen, UnknownCardProfile
from service.wire.card_profiles import CURRENT, NEXT
from service.wire.cardwork import CARD_TERMS, CURRENT_CARD_TERMS, EcertPlanRequest, PinPlanRequest


def _request(**over: object) -> EcertPlanRequest:
    body: dict[str, object] = {
        "certificates": ["auth"],
        "requester": "holder",
        "under_15": False,
        "adult_ward": False,
        "basic4_changed": False,
        "current_not_after": "2027-05-31",
    }
    return EcertPlanRequest.model_validate({**body, **over})


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2027, 5, 31), 3, dt.date(2027, 2, 28)),
        (dt.date(2028, 5, 31), 3, dt.date(2028, 2, 29)),
        (dt.date(2027, 1, 15), 3, dt.date(2026, 10, 15)),
        (dt.date(2027, 1, 15), 12, dt.date(2026, 1, 15)),
    ],
)
def test_months_before_keeps_the_day_or_takes_the_months_last(
    day: dt.date, months: int, expected: dt.date
) -> None:
    assert rules.months_before(day, months) == expected


def test_the_window_comes_from_the_cards_terms() -> None:
    assert CURRENT_CARD_TERMS.renewal_opens_months_before == 3
    with pytest.raises(RenewalNotOpen):
        rules.plan_ecert(_request(), today=dt.date(2027, 2, 27))
    plans, opens = rules.plan_ecert(_request(), today=dt.date(2027, 2, 28))
    assert opens == dt.date(2027, 2, 28)
    assert plans[0].action == "renew"


def test_the_next_generation_card_opens_renewal_a_year_ahead_from_its_profile() -> None:
    """The terms are the card profiles' (service/wire/card_profiles.py), keyed by the generation the agent read."""
    assert CARD_TERMS["gen2016"].renewal_opens_months_before == CURRENT.renewal_window_months == 3
    assert CARD_TERMS["gen2028"].renewal_opens_months_before == NEXT.renewal_window_months == 12
    assert CARD_TERMS["gen2028"].validity_years == NEXT.certificate_validity_years
    with pytest.raises(RenewalNotOpen):
        rules.plan_ecert(_request(), today=dt.date(2027, 2, 27))
    plans, opens = rules.plan_ecert(_request(profile="gen2028"), today=dt.date(2026, 6, 1))
    assert opens == dt.date(2026, 5, 31)
    assert plans[0].action == "renew"
    with pytest.raises(UnknownCardProfile):
        rules.plan_ecert(_request(profile="gen1999"), today=dt.date(2027, 3, 1))


def test_a_proxy_recorded_at_the_precheck_is_refused_whatever_the_request_says() -> None:
    with pytest.raises(ProxyNotAllowed):
        rules.plan_ecert(_request(), today=dt.date(2027, 3, 1), proxy_recorded=True)
    with pytest.raises(ProxyNotAllowed):
        rules.check_pin(
            PinPlanRequest.model_validate({"pin": "auth", "mode": "change", "requester": "holder"}),
            proxy_recorded=True,
        )
