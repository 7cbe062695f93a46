"""A month of synthetic activity with known counts (September 2026) for the reports' tests.

September 2026 has 30 days, weekends on 5–6, 12–13, 19–20, 26–27 and three national holidays in a row (21 敬老の日,
22 国民の休日, 23 秋分の日): 19 working days. Every case below is written through tests/factories.py
synthetic_case, whose steps the state machine checks; EXPECTED is what the report must say, counted by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import SYSTEM
from service.cases.lifecycle import Action
from service.config import Settings
from service.db import unit_of_work
from service.kit.ids import random_id
from service.signaling.models import ConnectionMetric
from service.tenancy import service as tenancy_service
from service.tenancy.codes import Procedure
from service.tenancy.schemas import DesignationCreate, PostOfficeCreate
from tests.factories import Step, Tenant, make_tenant, synthetic_case

TZ = ZoneInfo("Asia/Tokyo")
MONTH = "2026-09"
A = Action
m = dt.timedelta(minutes=1)
s = dt.timedelta(seconds=1)


def at(day: int, hour: int = 10, minute: int = 0, month: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=TZ)


def reviewed(
    wait: dt.timedelta, handling: dt.timedelta, decision: Action, reason: str | None = None
) -> list[Step]:
    """Checked in at +0, queued at +2 min, accepted after `wait`, decided `handling` after accepting."""
    accept = 2 * m + wait
    return [
        (A.check_in, 0 * s, None),
        (A.precheck, 1 * m, None),
        (A.request_verification, 2 * m, None),
        (A.accept, accept, None),
        (A.capture_evidence, accept + 10 * s, None),
        (A.begin_review, accept + 20 * s, None),
        (decision, accept + handling, reason),
    ]


def mailed(after: dt.timedelta, *, last: Action, reason: str | None = None) -> list[Step]:
    """After approval: the PIN request sealed, J-LIS, card made and received, 交付前設定, mailed, then `last`."""
    day = dt.timedelta(days=1)
    return [
        (A.seal_pin_request, after + m, None),
        (A.submit_to_jlis, after + 2 * m, None),
        (A.record_card_produced, after + 9 * day, None),
        (A.record_card_received, after + 11 * day, None),
        (A.record_pre_issue_setup, after + 13 * day, None),
        (A.record_mailed, after + 14 * day, None),
        (last, after + 17 * day, reason),
    ]


@dataclass
class Built:
    tenant: Tenant
    office_2: str
    approved_cases: list[str]


async def build_month(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *, prefix: str = "99301"
) -> Built:
    """Tenant 99301x (office 1 designated for everything), its other offices, and the month's cases."""
    tenant = await make_tenant(
        sessionmaker,
        settings,
        prefix=prefix,
        name="試験市",
        office_code=prefix[1:] + "1",
        valid_from=dt.date(2026, 4, 1),
        valid_until=dt.date(2027, 3, 31),
    )
    async with unit_of_work(sessionmaker) as session:
        offices = []
        for n, (procedures, start, end) in enumerate(
            [
                # In force from the 15th: counts as in force in September.
                ([Procedure.application_support, Procedure.ecert_issue_renew], (2026, 9, 15), (2027, 3, 31)),
                # Planned from October: not in September's report.
                ([Procedure.card_application], (2026, 10, 1), (2027, 3, 31)),
                # Ended in August: not in September's report.
                ([Procedure.pin_reset], (2026, 1, 1), (2026, 8, 31)),
            ],
            start=2,
        ):
            office = await tenancy_service.create_post_office(
                session,
                actor=SYSTEM,
                data=PostOfficeCreate(
                    office_code=f"{prefix[1:]}{n}", name=f"試験第{n}郵便局", address="架空町2-2"
                ),
            )
            await tenancy_service.create_designation(
                session,
                actor=SYSTEM,
                data=DesignationCreate(
                    municipality_code=tenant.municipality_code,
                    post_office_id=office.id,
                    procedures=procedures,
                    valid_from=dt.date(*start),
                    valid_until=dt.date(*end),
                    council_resolution_ref="議決第1号 (test)",
                    contract_id=f"TEST-{prefix}-{n}",
                ),
            )
            offices.append(office.id)
        office_2 = offices[0]

        async def case(
            procedure: Procedure, opened: dt.datetime, steps: list[Step], office: str | None = None
        ) -> str:
            return await synthetic_case(
                session,
                tenant=tenant,
                procedure=procedure,
                opened_at=opened,
                steps=steps,
                post_office_id=office,
            )

        approved = []
        # Three card applications approved on Tue 1st (waits 60/120/300 s, handling 200/400/600 s), then J-LIS
        # and the mail: two delivered, one returned.
        for wait, handling, last, reason in (
            (60, 200, A.record_delivered, None),
            (120, 400, A.record_delivered, None),
            (300, 600, A.record_returned, "hold_expired"),
        ):
            steps = reviewed(wait * s, handling * s, A.approve)
            approved.append(
                await case(
                    Procedure.card_application,
                    at(1),
                    steps + mailed(steps[-1][1], last=last, reason=reason),
                )
            )
        # Sat 5th: a renewal rejected (wait 30, handling 100).
        await case(Procedure.card_renewal, at(5), reviewed(30 * s, 100 * s, A.reject, "face_mismatch"))
        # Holiday Tue 22nd: a card application referred to the counter (wait 90, handling 50).
        await case(
            Procedure.card_application,
            at(22),
            reviewed(90 * s, 50 * s, A.refer_to_counter, "document_unreadable"),
        )
        # Two withdrawals: after the pre-check on the 1st, right after check-in on the 5th.
        await case(
            Procedure.card_application,
            at(1, 11),
            [(A.check_in, 0 * s, None), (A.precheck, m, None), (A.withdraw, 2 * m, "applicant_request")],
        )
        await case(
            Procedure.card_application,
            at(5, 11),
            [(A.check_in, 0 * s, None), (A.withdraw, m, "proxy_not_allowed")],
        )
        # PIN reset on the 1st: queued 10 s, the link drops (network), requeued, accepted after 20 s, approved 30 s
        # later and closed at the counter.
        await case(
            Procedure.pin_reset,
            at(1, 13),
            [
                (A.check_in, 0 * s, None),
                (A.precheck, m, None),
                (A.request_verification, 2 * m, None),
                (A.accept, 2 * m + 10 * s, None),
                (A.abort, 3 * m, "network"),
                (A.requeue, 4 * m, None),
                (A.accept, 4 * m + 20 * s, None),
                (A.capture_evidence, 4 * m + 30 * s, None),
                (A.begin_review, 4 * m + 40 * s, None),
                (A.approve, 4 * m + 50 * s, None),
                (A.close, 6 * m, None),
            ],
        )
        # E-certificate on the 1st: accepted after 40 s, the applicant leaves (not a drop), then withdrawn.
        await case(
            Procedure.ecert_issue_renew,
            at(1, 14),
            [
                (A.check_in, 0 * s, None),
                (A.precheck, m, None),
                (A.request_verification, 2 * m, None),
                (A.accept, 2 * m + 40 * s, None),
                (A.abort, 4 * m, "applicant_left"),
                (A.withdraw, 5 * m, "other"),
            ],
        )
        # Certificates at the kiosk (office 1) on the 22nd, application support at office 2 on the 16th.
        done: list[Step] = [(A.check_in, 0 * s, None), (A.precheck, m, None), (A.complete, 5 * m, None)]
        await case(Procedure.certificate_kiosk, at(22, 15), done)
        await case(Procedure.application_support, at(16), done, office_2)
        await case(Procedure.application_support, at(16, 11), done, office_2)
        # Checked in on 31 August before midnight, accepted on 1 September (wait 600 s, handling 300 s): received
        # in August, its wait and decision in September.
        await case(
            Procedure.card_renewal,
            at(31, 23, 50, month=8),
            reviewed(600 * s, 300 * s, A.reject, "attribute_mismatch"),
        )
        # Checked in on 1 October: not September's.
        await case(Procedure.card_application, at(1, 0, 1, month=10), [(A.check_in, 0 * s, None)])
        # Call setup as the officer's side measured it: 800, 1200, 2000 ms in September; the clerk's side and
        # October's calls do not count.
        for side, started, first_frame in (
            ("officer", at(1), 800.0),
            ("officer", at(5), 1200.0),
            ("officer", at(22), 2000.0),
            ("clerk", at(1), 50.0),
            ("officer", at(1, month=10), 9000.0),
        ):
            session.add(
                ConnectionMetric(
                    id=random_id("cmet"),
                    case_id=approved[0],
                    municipality_code=tenant.municipality_code,
                    side=side,
                    reporter_id="synthetic",
                    role="answerer" if side == "officer" else "offerer",
                    started_at=started,
                    first_frame_ms=first_frame,
                    created_at=started,
                )
            )
    return Built(tenant, office_2, approved)


# What September's report must say for tenant 99301x, counted by hand from the cases above.
EXPECTED_TOTALS = {
    "received": 12,
    "withdrawn": 3,
    "withdrawn_by_reason": {"applicant_request": 1, "other": 1, "proxy_not_allowed": 1},
    "referred": 1,
    "referred_by_reason": {"document_unreadable": 1},
    "rejected": 2,
    "rejected_by_reason": {"attribute_mismatch": 1, "face_mismatch": 1},
    "approved": 4,
    "aborted": 2,
    "aborted_by_reason": {"applicant_left": 1, "network": 1},
    "completed": 3,
    "submitted_to_jlis": 3,
    "card_produced": 3,
    "card_received": 3,
    "pre_issue_setup_done": 3,
    "mailed": 3,
    "delivered": 2,
    "returned": 1,
    "returned_by_reason": {"hold_expired": 1},
    "awaiting_pickup": 0,
    "cancelled_address_change": 0,
}
