"""The municipal report counts a known month right, and a past month's report does not change (docs/reports.md).

The month is built in tests/service/reports_month.py: every figure below was counted by hand from its cases.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.cases.lifecycle import Action
from service.config import Settings
from service.db import unit_of_work
from tests.factories import continue_case, login
from tests.service.reports_month import EXPECTED_TOTALS, MONTH, at, build_month

ZERO_DAY: dict[str, Any] = {k: ({} if k.endswith("_by_reason") else 0) for k in EXPECTED_TOTALS}


def _figures(**counts: Any) -> dict[str, Any]:
    return {**ZERO_DAY, **counts}


async def _report(
    client: httpx.AsyncClient, code: str, month: str, headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.get(f"/api/v1/reports/municipalities/{code}/months/{month}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_every_figure_of_a_known_month(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    built = await build_month(sessionmaker, settings)
    code = built.tenant.municipality_code
    report = await _report(client, code, MONTH, await login(client, built.tenant.usernames[Role.supervisor]))

    assert report["period"] == {
        "month": "2026-09",
        "first_day": "2026-09-01",
        "last_day": "2026-09-30",
        "timezone": "Asia/Tokyo",
        "days": 30,
        "working_days": 19,
        "holidays": ["2026-09-21", "2026-09-22", "2026-09-23"],
    }
    assert report["totals"] == EXPECTED_TOTALS

    days = {d["day"]: d for d in report["by_day"]}
    assert len(days) == 30
    assert [d for d, row in days.items() if not row["working_day"]] == [
        f"2026-09-{n:02d}" for n in (5, 6, 12, 13, 19, 20, 21, 22, 23, 26, 27)
    ]
    assert days["2026-09-01"]["figures"] == _figures(
        received=6,
        withdrawn=2,
        withdrawn_by_reason={"applicant_request": 1, "other": 1},
        rejected=1,
        rejected_by_reason={"attribute_mismatch": 1},
        approved=4,
        aborted=2,
        aborted_by_reason={"applicant_left": 1, "network": 1},
        submitted_to_jlis=3,
    )
    assert days["2026-09-05"]["figures"] == _figures(
        received=2,
        withdrawn=1,
        withdrawn_by_reason={"proxy_not_allowed": 1},
        rejected=1,
        rejected_by_reason={"face_mismatch": 1},
    )
    assert days["2026-09-10"]["figures"] == _figures(card_produced=3)
    assert days["2026-09-12"]["figures"] == _figures(card_received=3)
    assert days["2026-09-14"]["figures"] == _figures(pre_issue_setup_done=3)
    assert days["2026-09-15"]["figures"] == _figures(mailed=3)
    assert days["2026-09-16"]["figures"] == _figures(received=2, completed=2)
    assert days["2026-09-18"]["figures"] == _figures(
        delivered=2, returned=1, returned_by_reason={"hold_expired": 1}
    )
    assert days["2026-09-22"]["figures"] == _figures(
        received=2, referred=1, referred_by_reason={"document_unreadable": 1}, completed=1
    )
    quiet = set(days) - {f"2026-09-{n:02d}" for n in (1, 5, 10, 12, 14, 15, 16, 18, 22)}
    assert all(days[d]["figures"] == ZERO_DAY for d in quiet)

    offices = {o["office_code"]: o["figures"] for o in report["by_office"]}
    # Offices 3 (planned from October) and 4 (ended in August) had no designation in September and no case.
    assert sorted(offices) == ["93011", "93012"]
    assert offices["93012"] == _figures(received=2, completed=2)
    assert offices["93011"]["received"] == 10
    assert offices["93011"]["completed"] == 1

    procedures = {p["procedure"]: p["figures"] for p in report["by_procedure"]}
    assert list(procedures) == [
        "card_application",
        "card_renewal",
        "ecert_issue_renew",
        "pin_reset",
        "application_support",
        "certificate_kiosk",
        "certificate_request",
    ]
    assert {p: f["received"] for p, f in procedures.items()} == {
        "card_application": 6,
        "card_renewal": 1,
        "ecert_issue_renew": 1,
        "pin_reset": 1,
        "application_support": 2,
        "certificate_kiosk": 1,
        "certificate_request": 0,
    }
    assert procedures["card_renewal"]["rejected"] == 2
    assert procedures["pin_reset"] == _figures(
        received=1, approved=1, aborted=1, aborted_by_reason={"network": 1}
    )
    assert procedures["ecert_issue_renew"] == _figures(
        received=1,
        aborted=1,
        aborted_by_reason={"applicant_left": 1},
        withdrawn=1,
        withdrawn_by_reason={"other": 1},
    )
    assert [p["procedure"] for p in report["ecert_pin"]] == ["ecert_issue_renew", "pin_reset"]

    assert report["timings"] == {
        "queue_wait_seconds": {"count": 9, "p50": 60.0, "p90": 600.0, "mean": 141.111},
        "handling_seconds": {"count": 7, "p50": 200.0, "p90": 600.0, "mean": 240.0},
        "call_setup_ms": {"count": 3, "p50": 1200.0, "p90": 2000.0, "mean": 1333.333},
        "calls": 9,
        "drops": 1,
        "drops_by_reason": {"network": 1},
    }
    designations = report["designations"]
    assert (designations["in_force"], designations["offices"]) == (2, 2)
    assert designations["by_procedure"] == {
        "card_application": 1,
        "card_renewal": 1,
        "ecert_issue_renew": 2,
        "pin_reset": 1,
        "application_support": 2,
        "certificate_kiosk": 1,
        "certificate_request": 1,  # the designation covering every procedure
    }
    assert report["working_day_averages"] == {
        "working_days": 19,
        "averages": {
            "received": 0.63,
            "submitted_to_jlis": 0.16,
            "pre_issue_setup_done": 0.16,
            "mailed": 0.16,
            "delivered": 0.11,
        },
    }
    # No certificate activity in this month's data (tests/service/test_reports_certificates.py has some).
    assert report["certificates"]["available"] is True
    assert report["certificates"]["totals"]["issued"] == 0


async def test_a_past_months_report_does_not_change_when_its_cases_move_on(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """October's report run in December gives October's numbers: later entries belong to their own month."""
    built = await build_month(sessionmaker, settings)
    code = built.tenant.municipality_code
    headers = await login(client, built.tenant.usernames[Role.supervisor])
    before = await _report(client, code, MONTH, headers)
    # In October and November the cases move on: one returned card awaits pickup then closes, one more is
    # cancelled; the current state of every case changes, September's entries do not.
    async with unit_of_work(sessionmaker) as session:
        returned = built.approved_cases[2]
        await continue_case(
            session,
            case_id=returned,
            steps=[
                (Action.record_awaiting_pickup, at(2, month=10), None),
                (Action.close, at(5, month=11), None),
            ],
        )
        await continue_case(
            session, case_id=built.approved_cases[0], steps=[(Action.close, at(9, month=10), None)]
        )
    after = await _report(client, code, MONTH, headers)
    for key in (
        "totals",
        "by_day",
        "by_office",
        "by_procedure",
        "timings",
        "designations",
        "working_day_averages",
    ):
        assert after[key] == before[key], key
    october = await _report(client, code, "2026-10", headers)
    assert october["totals"]["awaiting_pickup"] == 1
    assert october["totals"]["received"] == 1  # the case checked in at 00:01 on 1 October
    assert october["timings"]["call_setup_ms"]["count"] == 1
    november = await _report(client, code, "2026-11", headers)
    assert november["totals"] == ZERO_DAY  # closing after pickup is not "completed at the counter"
    assert dt.date.fromisoformat(november["period"]["last_day"]).day == 30
