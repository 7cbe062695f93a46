"""Many kiosks and clerks at once, in one event loop against the app: every printed document is its receipt's
resident's — zero mix-ups — through duplicate and racing scans, repeated reports, and failed prints with reprints.

The 2023 コンビニ交付 failures printed other residents' certificates when concurrent requests overwrote each other; this
test runs the whole flow concurrently and checks each document end to end: its digest and embedded binding against
the receipt, and its text (as a PDF reader extracts it) against the resident who proved the card. It prints its counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.certificates.models import CertificateDocument
from service.certificates.signing import embedded_binding
from service.config import Settings
from service.db import unit_of_work
from service.wire.certificates import pdf_binding
from tests.service.certificates.conftest import Holder, Office, new_device, pdf_text

KIOSKS = int(os.environ.get("CERT_TEST_KIOSKS", "6"))
CLERKS = int(os.environ.get("CERT_TEST_CLERKS", "3"))
RESIDENTS = int(os.environ.get("CERT_TEST_RESIDENTS", "24"))
KINDS = [("juminhyo", "self"), ("inkan", None), ("koseki_kojin", None), ("juminhyo", "household")]


@dataclass
class Tally:
    receipts: int = 0
    scans: int = 0
    duplicate_scans: int = 0
    prints: int = 0
    failed_prints: int = 0
    reprints: int = 0
    repeated_reports: int = 0
    handed_over: int = 0
    mixups: list[str] = field(default_factory=list)


async def _kiosk_flow(
    office: Office, kiosk: httpx.AsyncClient, holder: Holder, n: int
) -> tuple[Holder, dict[str, Any]]:
    kind, scope = KINDS[n % len(KINDS)]
    answer = await office.request(holder, kiosk=kiosk, kind=kind, scope=scope)
    assert answer["state"] == "receipt_issued", answer
    return holder, answer["receipt"]


async def _check(
    office: Office, job: dict[str, Any], pdf: bytes, holder: Holder, everyone: list[Holder], tally: Tally
) -> None:
    """The document is this receipt's and this resident's, and nobody else's."""
    binding = job["binding"]
    problems = []
    if hashlib.sha256(pdf).hexdigest() != binding["content_sha256"]:
        problems.append("digest")
    if embedded_binding(pdf) != pdf_binding(job["receipt_number"], binding["nonce_sha256"]):
        problems.append("embedded binding")
    text = await asyncio.to_thread(pdf_text, pdf, office.tmp)
    if holder.record.name not in text:
        problems.append("resident missing")
    # A household 住民票 shows the resident's household too; nobody else's name may appear anywhere.
    household = "（世帯全員）" in text
    allowed = {h.record.name for h in everyone if h.record.household_id == holder.record.household_id}
    others = [
        h.record.name
        for h in everyone
        if h is not holder and h.record.name in text and not (household and h.record.name in allowed)
    ]
    if others:
        problems.append(f"other residents {others}")
    if problems:
        tally.mixups.append(f"{job['receipt_number']}: {', '.join(problems)}")


async def _clerk_flow(
    office: Office,
    stations: list[httpx.AsyncClient],
    n: int,
    holder: Holder,
    receipt: dict[str, Any],
    everyone: list[Holder],
    tally: Tally,
) -> None:
    station = stations[n % len(stations)]
    other = stations[(n + 1) % len(stations)]
    number = receipt["receipt_number"]
    # Two clerks scan the same slip at the same moment: one job, accepted once.
    first, second = await asyncio.gather(office.scan(number, station), office.scan(number, other))
    tally.scans += 2
    tally.duplicate_scans += 1
    assert first["id"] == second["id"]
    job = first
    pdf = (await office.fetch(job, station)).content
    await _check(office, job, pdf, holder, everyone, tally)
    if n % 5 == 0:
        # Paper out: the spoiled copy is voided, a new one (new digest) is bound to the same receipt.
        failed = await office.step(job["id"], "print-failed", {"reason": "paper_out"}, station)
        assert failed.status_code == 200, failed.text
        tally.failed_prints += 1
        again = await office.step(job["id"], "reprint", {"reason": "paper_out"}, station)
        assert again.status_code == 200, again.text
        tally.reprints += 1
        job = again.json()
        pdf = (await office.fetch(job, station)).content
        await _check(office, job, pdf, holder, everyone, tally)
    legs = {k: job["binding"][k] for k in ("receipt_number", "nonce_sha256", "content_sha256")}
    # The station retries its report (a timeout it did not see answered): both land on the same state.
    reports = await asyncio.gather(
        office.step(job["id"], "printed", legs, station), office.step(job["id"], "printed", legs, station)
    )
    assert all(r.status_code == 200 and r.json()["state"] == "printed" for r in reports), [
        r.text for r in reports
    ]
    tally.prints += 1
    tally.repeated_reports += 1
    paid = await office.step(job["id"], "fee", {"amount_yen": job["fee_yen"]}, station)
    assert paid.json()["fee_paid_yen"] == receipt["fee_yen"], paid.text
    handed = await office.step(job["id"], "hand-over", None, station)
    assert handed.json()["state"] == "handed_over", handed.text
    tally.handed_over += 1


async def test_many_kiosks_and_clerks_at_once_print_no_one_elses_certificate(
    office: Office, app: Any, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    kiosks = [
        office.kiosk,
        *[
            await new_device(app, sessionmaker, settings, office.world.a, f"kiosk {i}")
            for i in range(KIOSKS - 1)
        ],
    ]
    stations = [
        office.station,
        *[
            await new_device(app, sessionmaker, settings, office.world.a, f"station {i}")
            for i in range(CLERKS - 1)
        ],
    ]
    try:
        holders = [office.holder() for _ in range(RESIDENTS)]
        # Households of two for the household 住民票: each head's household holds one more (synthetic) member.
        for n, holder in enumerate(holders):
            if KINDS[n % len(KINDS)][1] == "household":
                office.holder(household_id=holder.record.household_id, relationship="子")
        everyone = list(office.holders)
        tally = Tally()
        cycle = itertools.cycle(kiosks)
        issued = await asyncio.gather(
            *(_kiosk_flow(office, next(cycle), h, n) for n, h in enumerate(holders))
        )
        tally.receipts = len({receipt["receipt_number"] for _, receipt in issued})
        await asyncio.gather(
            *(_clerk_flow(office, stations, n, h, r, everyone, tally) for n, (h, r) in enumerate(issued))
        )
        async with unit_of_work(sessionmaker) as session:
            copies = (
                await session.execute(select(func.count()).select_from(CertificateDocument))
            ).scalar_one()
            sealed = (
                await session.execute(
                    select(func.count())
                    .select_from(CertificateDocument)
                    .where(CertificateDocument.ciphertext.is_not(None))
                )
            ).scalar_one()
        sys.stdout.write(
            f"\n[certificates concurrency] kiosks={KIOSKS} clerks={CLERKS} replicas=1 receipts={tally.receipts} "
            f"scans={tally.scans} (duplicates={tally.duplicate_scans}) prints={tally.prints} "
            f"failed={tally.failed_prints} reprints={tally.reprints} repeated_reports={tally.repeated_reports} "
            f"handed_over={tally.handed_over} copies={copies} mixups={len(tally.mixups)}\n"
        )
        assert tally.mixups == []
        assert tally.receipts == RESIDENTS
        assert tally.handed_over == RESIDENTS
        assert copies == RESIDENTS + tally.reprints
        assert sealed == 0
    finally:
        for client in [*kiosks[1:], *stations[1:]]:
            await client.aclose()
