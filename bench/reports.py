"""A year of a large city summarised: 200 post offices, 100,000 cases, twelve monthly reports and a national view.

Beside it, in the same run and on the same database: the floor of a plain SQL aggregate (`GROUP BY state` over the
month's state entries of the municipality), which counts what the report counts but computes nothing else. The
report's figures are checked against the aggregate's, so the speed is not bought with a wrong answer.
PostgreSQL by default (a fresh database, dropped afterwards); `--sqlite` runs the embedded default instead.

    .venv/bin/python bench/reports.py [--cases 100000] [--offices 200] [--sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine  # noqa: E402

from service.accounts.roles import Principal, PrincipalKind, Role  # noqa: E402
from service.cases.models import Case, CaseStateEntry  # noqa: E402
from service.config import Environment, Settings  # noqa: E402
from service.db import create_engine, create_sessionmaker, unit_of_work  # noqa: E402
from service.migrate import upgrade  # noqa: E402
from service.reports import service as reports_service  # noqa: E402
from service.reports.calendar import Month  # noqa: E402
from service.tenancy.models import Designation, PostOffice  # noqa: E402
from service.wire.cases import Procedure  # noqa: E402
from tests.factories import Tenant, make_tenant  # noqa: E402

ADMIN_URL = os.environ.get("HUB_TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
TZ = ZoneInfo("Asia/Tokyo")
YEAR = 2025
CHUNK = 20_000

# Case histories as (state, action, seconds after opening, reason): the shapes a year of counters produces.
DAY = 86_400
History = list[tuple[str, str, int, str | None]]
FULL: History = [
    ("checked_in", "check_in", 0, None),
    ("eligibility_precheck", "precheck", 60, None),
    ("queued_for_officer", "request_verification", 120, None),
    ("session_live", "accept", 300, None),
    ("evidence_captured", "capture_evidence", 320, None),
    ("officer_review", "begin_review", 340, None),
    ("approved", "approve", 700, None),
    ("pin_request_sealed", "seal_pin_request", 760, None),
    ("submitted_to_jlis", "submit_to_jlis", 900, None),
    ("card_produced", "record_card_produced", 9 * DAY, None),
    ("card_received_by_municipality", "record_card_received", 11 * DAY, None),
    ("pre_issue_setup_done", "record_pre_issue_setup", 13 * DAY, None),
    ("mailed", "record_mailed", 14 * DAY, None),
    ("delivered", "record_delivered", 17 * DAY, None),
]
REJECTED: History = [*FULL[:6], ("rejected", "reject", 600, "face_mismatch")]
WITHDRAWN: History = [*FULL[:2], ("withdrawn", "withdraw", 180, "applicant_request")]
SUPPORT: History = [*FULL[:2], ("closed", "complete", 600, None)]
SHAPES: list[tuple[Procedure, History, float]] = [
    (Procedure.card_application, FULL, 0.55),
    (Procedure.card_renewal, REJECTED, 0.05),
    (Procedure.card_application, WITHDRAWN, 0.10),
    (Procedure.application_support, SUPPORT, 0.30),
]


async def fresh_database() -> tuple[str, str]:
    name = f"madoguchi_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return name, ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(name: str) -> None:
    admin = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def seed(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *, cases: int, offices: int
) -> tuple[Tenant, int]:
    """The city, its offices and designations, and a year of synthetic case histories; returns the entry count."""
    city = await make_tenant(
        sessionmaker,
        settings,
        prefix="99501",
        name="計測市",
        office_code="95000",
        valid_from=dt.date(YEAR - 1, 4, 1),
        valid_until=dt.date(YEAR + 1, 3, 31),
    )
    rng = random.Random(19)
    office_ids = [city.post_office_id]
    now = dt.datetime.now(dt.UTC)
    async with unit_of_work(sessionmaker) as session:
        more = [f"po_bench_{i:04d}" for i in range(1, offices)]
        await session.execute(
            insert(PostOffice),
            [
                {
                    "id": oid,
                    "office_code": f"95{i:03d}",
                    "name": f"計測第{i}局",
                    "address": "架空町",
                    "created_at": now,
                }
                for i, oid in enumerate(more, start=1)
            ],
        )
        await session.execute(
            insert(Designation),
            [
                {
                    "id": f"dsg_bench_{i:04d}",
                    "municipality_code": city.municipality_code,
                    "post_office_id": oid,
                    "procedures": [p.value for p in Procedure],
                    "valid_from": dt.date(YEAR - 1, 4, 1),
                    "valid_until": dt.date(YEAR + 1, 3, 31),
                    "council_resolution_ref": "議決 (bench)",
                    "contract_id": f"BENCH-{i}",
                    "opening_hours": {},
                    "note": "",
                    "created_at": now,
                }
                for i, oid in enumerate(more, start=1)
            ],
        )
        office_ids += more
    start = dt.datetime(YEAR, 1, 1, 9, tzinfo=TZ)
    weights = [w for _, _, w in SHAPES]
    entries = 0
    for first in range(0, cases, CHUNK):
        case_rows, entry_rows = [], []
        for n in range(first, min(first + CHUNK, cases)):
            procedure, shape, _ = rng.choices(SHAPES, weights)[0]
            opened = start + dt.timedelta(days=rng.randrange(365), seconds=rng.randrange(8 * 3600))
            case_id = f"case_bench_{n:07d}"
            case_rows.append(
                {
                    "id": case_id,
                    "reference": f"B{n:07d}",
                    "reference_day": opened.date(),
                    "municipality_code": city.municipality_code,
                    "post_office_id": rng.choice(office_ids),
                    "designation_id": city.designation_id,
                    "procedure": procedure.value,
                    "state": shape[-1][0],
                    "version": 1,
                    "created_by_device_id": city.device_id,
                    "created_at": opened,
                    "updated_at": opened,
                    "state_entered_at": opened,
                }
            )
            jitter = rng.randrange(240)
            for state, action, after, reason in shape:
                entry_rows.append(
                    {
                        "case_id": case_id,
                        "state": state,
                        "action": action,
                        "actor_kind": "device",
                        "actor_id": city.device_id,
                        "reason_code": reason,
                        "entered_at": opened + dt.timedelta(seconds=after + (jitter if after >= 300 else 0)),
                    }
                )
        async with unit_of_work(sessionmaker) as session:
            await session.execute(insert(Case), case_rows)
            await session.execute(insert(CaseStateEntry), entry_rows)
        entries += len(entry_rows)
    return city, entries


BASELINE = text(
    "SELECT e.state, count(*) FROM case_state_entry e JOIN counter_case c ON c.id = e.case_id "
    "WHERE c.municipality_code = :code AND e.entered_at >= :start AND e.entered_at < :end GROUP BY e.state"
)


async def measure(url: str, data_dir: Path, *, cases: int, offices: int) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    sessionmaker = create_sessionmaker(engine)
    settings = Settings(environment=Environment.test, database_url=url, data_dir=data_dir)
    began = time.perf_counter()
    city, entries = await seed(sessionmaker, settings, cases=cases, offices=offices)
    seeded = time.perf_counter() - began
    if url.startswith("postgresql"):
        # Fresh statistics, as autovacuum keeps them on a live database (without them both queries plan badly).
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    supervisor = Principal(
        kind=PrincipalKind.account, id="bench", role=Role.supervisor, municipality_code=city.municipality_code
    )
    ministry = Principal(kind=PrincipalKind.account, id="bench-m", role=Role.ministry)
    months = [Month(YEAR, m, TZ) for m in range(1, 13)]
    load_before = os.getloadavg()
    report_times, baseline_times = [], []
    year = {"received": 0, "approved": 0, "submitted_to_jlis": 0, "delivered": 0, "withdrawn": 0}
    agree = True
    for month in months:
        async with sessionmaker() as session:
            t0 = time.perf_counter()
            await session.execute(
                BASELINE, {"code": city.municipality_code, "start": month.start, "end": month.end}
            )
            baseline_times.append(time.perf_counter() - t0)
        async with sessionmaker() as session:
            t0 = time.perf_counter()
            report = await reports_service.municipal_report(
                session, principal=supervisor, municipality_code=city.municipality_code, month=month
            )
            report_times.append(time.perf_counter() - t0)
        async with sessionmaker() as session:
            floor: dict[str, int] = dict(
                (
                    await session.execute(
                        BASELINE, {"code": city.municipality_code, "start": month.start, "end": month.end}
                    )
                ).all()
            )
        totals = report.totals
        agree &= (totals.received, totals.approved, totals.delivered, totals.withdrawn) == (
            floor.get("checked_in", 0),
            floor.get("approved", 0),
            floor.get("delivered", 0),
            floor.get("withdrawn", 0),
        )
        for key in year:
            year[key] += getattr(totals, key)
    async with sessionmaker() as session:
        t0 = time.perf_counter()
        national = await reports_service.national_report(session, principal=ministry, month=months[9])
        national_time = time.perf_counter() - t0
    load_after = os.getloadavg()
    await engine.dispose()

    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"reports bench on {backend}: 1 city, {offices} offices, {cases:,} cases, {entries:,} state entries in {YEAR}"
    )
    print(f"  seeding: {seeded:.1f} s")
    print("  year's figures: " + ", ".join(f"{k} {v:,}" for k, v in year.items()))
    print(f"  report figures agree with the plain aggregate every month: {'yes' if agree else 'NO'}")
    print(
        f"  monthly report (full: per day, office, procedure, timings, designations): "
        f"median {statistics.median(report_times) * 1000:.0f} ms, max {max(report_times) * 1000:.0f} ms, "
        f"year {sum(report_times):.2f} s"
    )
    print(
        f"  plain SQL aggregate (GROUP BY state, same rows):          "
        f"median {statistics.median(baseline_times) * 1000:.0f} ms, max {max(baseline_times) * 1000:.0f} ms, "
        f"year {sum(baseline_times):.2f} s"
    )
    print(f"  ratio report / aggregate (year): {sum(report_times) / sum(baseline_times):.1f}x")
    print(
        f"  national view of October ({national.offices_in_force} offices in force): {national_time * 1000:.0f} ms"
    )
    print(f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores shared)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--offices", type=int, default=200)
    parser.add_argument(
        "--sqlite", action="store_true", help="the embedded SQLite default instead of PostgreSQL"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.sqlite:
            await measure(
                f"sqlite+aiosqlite:///{tmp}/bench.sqlite3", Path(tmp), cases=args.cases, offices=args.offices
            )
            return
        name, url = await fresh_database()
        try:
            await measure(url, Path(tmp), cases=args.cases, offices=args.offices)
        finally:
            await drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())
