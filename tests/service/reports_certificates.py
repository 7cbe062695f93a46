"""Certificate activity of known counts for the municipal report's month (tests/service/reports_month.py).

Rows are written as the certificate terminal records them (service/certificates/printing.py): a document per
printed copy set, a superseded one when reprinted, the job's hand-over time, and the office's fee ledger. Every
count in EXPECTED_* was worked out by hand from the jobs below.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.certificates.models import CertificateDocument, CertificateFeeEntry, CertificateJob
from service.db import unit_of_work
from service.kit.ids import random_id
from tests.service.reports_month import TZ


def jst(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=TZ)


class _Writer:
    def __init__(self, session: AsyncSession, code: str) -> None:
        self.session, self.code = session, code

    def job(
        self, office: str, kind: str, count: int, fee: int, *, handed_over: dt.datetime | None = None
    ) -> CertificateJob:
        created = jst(8, 20, 9)
        job = CertificateJob(
            id=random_id("cjob"),
            municipality_code=self.code,
            post_office_id=office,
            kiosk_device_id="dev_test",
            kind=kind,
            scope=None,
            options=[],
            count=count,
            fee_yen=fee,
            config_version=1,
            origin="https://kiosk.test",
            nonce=None,
            nonce_sha256="0" * 64,
            challenge_expires_at=created,
            state="handed_over" if handed_over else "printed",
            fee_paid_yen=fee if handed_over else 0,
            handed_over_at=handed_over,
            reprints=0,
            created_at=created,
            updated_at=created,
        )
        self.session.add(job)
        return job

    def document(
        self, job: CertificateJob, issued: dt.datetime, status: str = "current", at: dt.datetime | None = None
    ) -> None:
        self.session.add(
            CertificateDocument(
                id=random_id("cdoc"),
                job_id=job.id,
                municipality_code=self.code,
                kind=job.kind,
                issue_number=random_id("no"),
                verification_code=random_id("v")[:20],
                issued_at=issued,
                pages=1,
                content_sha256="1" * 64,
                status=status,
                status_at=at,
            )
        )

    def ledger(self, job: CertificateJob, when: dt.datetime, amount: int) -> None:
        self.session.add(
            CertificateFeeEntry(
                id=random_id("cfee"),
                job_id=job.id,
                municipality_code=self.code,
                post_office_id=job.post_office_id,
                day=when.astimezone(TZ).date(),
                kind=job.kind,
                count=job.count,
                amount_yen=amount,
                entry="fee" if amount > 0 else "refund",
                recorded_by="acct_test",
                recorded_at=when,
            )
        )


async def build_certificates(
    sessionmaker: async_sessionmaker[AsyncSession], *, code: str, office_1: str, office_2: str
) -> str:
    """Four jobs around September; returns the job a later refund is recorded for (in November)."""
    async with unit_of_work(sessionmaker) as session:
        w = _Writer(session, code)
        # A: 2 住民票 at office 1 on 1 September, paid and handed over.
        a = w.job(office_1, "juminhyo", 2, 600, handed_over=jst(9, 1, 10, 5))
        # B: 1 印鑑登録証明書 on the 2nd, spoiled and reprinted, paid, handed over; refunded on the 3rd.
        b = w.job(office_1, "inkan", 1, 300, handed_over=jst(9, 2, 10, 10))
        # C: 1 住民票 at office 2 printed at 23:50 on the 30th (September locally), voided after midnight.
        c = w.job(office_2, "juminhyo", 1, 300)
        # D: 1 戸籍全部事項証明書 printed on 31 August, paid and handed over just after midnight on 1 September.
        d = w.job(office_1, "koseki_zenbu", 1, 450, handed_over=jst(9, 1, 0, 5))
        await session.flush()
        w.document(a, jst(9, 1, 10))
        w.ledger(a, jst(9, 1, 10, 4), 600)
        w.document(b, jst(9, 2, 10), "superseded", jst(9, 2, 10, 2))
        w.document(b, jst(9, 2, 10, 2))
        w.ledger(b, jst(9, 2, 10, 8), 300)
        w.ledger(b, jst(9, 3, 15), -300)
        w.document(c, jst(9, 30, 23, 50), "voided", jst(10, 1, 0, 10))
        w.document(d, jst(8, 31, 23, 59))
        w.ledger(d, jst(9, 1, 0, 4), 450)
        return a.id


async def refund_later(sessionmaker: async_sessionmaker[AsyncSession], *, code: str, job_id: str) -> None:
    """November: job A's fee is refunded (the job's current state changes; September's records do not)."""
    async with unit_of_work(sessionmaker) as session:
        job = await session.get(CertificateJob, job_id)
        assert job is not None
        job.refund_state = "refunded"
        _Writer(session, code).ledger(job, jst(11, 5, 11), -600)


def figures(**counts: int) -> dict[str, Any]:
    zero = dict.fromkeys(
        ("issued", "handed_over", "reprints", "voided", "fees", "collected_yen", "refunded_yen"), 0
    )
    return {**zero, **counts}


EXPECTED_TOTALS = figures(
    issued=4, handed_over=4, reprints=1, voided=1, fees=3, collected_yen=1350, refunded_yen=300
)
EXPECTED_KINDS = {
    "juminhyo": figures(issued=3, handed_over=2, fees=1, collected_yen=600),
    "juminhyo_kisai": figures(),
    "inkan": figures(
        issued=1, handed_over=1, reprints=1, voided=1, fees=1, collected_yen=300, refunded_yen=300
    ),
    "koseki_zenbu": figures(handed_over=1, fees=1, collected_yen=450),
    "koseki_kojin": figures(),
    "koseki_fuhyo": figures(),
    "shotoku_kazei": figures(),
}
EXPECTED_DAYS = {
    "2026-09-01": figures(issued=2, handed_over=3, fees=2, collected_yen=1050),
    "2026-09-02": figures(issued=1, handed_over=1, reprints=1, voided=1, fees=1, collected_yen=300),
    "2026-09-03": figures(refunded_yen=300),
    "2026-09-30": figures(issued=1),
}
