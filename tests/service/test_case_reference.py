"""The 受付番号: every case gets a short reference at creation, office-MMDD-sequence in Tokyo time, unique.

People read and say the reference; the case id stays in URLs and APIs (docs/domain.md §B4.1).
"""

from __future__ import annotations

import datetime as dt
import re

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from service import migrate
from service.accounts.roles import Role
from service.config import Settings
from service.db import create_engine
from service.kit import clock
from tests.factories import World, make_tenant

SUPPORT = {"procedure": "application_support"}


def _at(moment: dt.datetime) -> None:
    """Move the hub's clock to `moment` (the suite's fixtures put it back)."""
    clock.shift_for_tests(moment - clock.now())


async def _create(world: World) -> dict[str, object]:
    response = await world.device_a.post(
        "/api/v1/cases", json={"municipality_code": world.a.municipality_code, **SUPPORT}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_reference_names_office_tokyo_day_and_sequence(world: World, client: httpx.AsyncClient) -> None:
    # 23:30 UTC on 1 December is 08:30 on 2 December in Tokyo: the receipt's day is the Tokyo one.
    _at(dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC))
    first, second = await _create(world), await _create(world)
    assert first["reference"] == "99101-1202-001"
    assert second["reference"] == "99101-1202-002"
    # The id stays the key in URLs; officers and the device read the same reference from it.
    read = await client.get(f"/api/v1/cases/{first['id']}", headers=world.h("a", Role.officer))
    assert read.json()["reference"] == "99101-1202-001"
    assert str(first["id"]).startswith("case_")


async def test_each_office_and_day_counts_from_one(world: World) -> None:
    _at(dt.datetime(2026, 12, 2, 5, 0, tzinfo=dt.UTC))
    today = await _create(world)
    other_office = await world.device_b.post(
        "/api/v1/cases", json={"municipality_code": world.b.municipality_code, **SUPPORT}
    )
    _at(dt.datetime(2026, 12, 2, 15, 0, 1, tzinfo=dt.UTC))  # just after midnight on 3 December in Tokyo
    tomorrow = await _create(world)
    assert today["reference"] == "99101-1202-001"
    assert other_office.json()["reference"] == "99102-1202-001"
    assert tomorrow["reference"] == "99101-1203-001"


async def test_reference_in_the_case_list(world: World, client: httpx.AsyncClient) -> None:
    created = await _create(world)
    assert re.fullmatch(r"99101-\d{4}-\d{3}", str(created["reference"]))
    listed = await client.get("/api/v1/cases", headers=world.h("a", Role.officer))
    assert [c["reference"] for c in listed.json()["items"]] == [created["reference"]]


async def test_migration_numbers_the_cases_that_existed_before(
    fresh_database_url: str, settings: Settings
) -> None:
    engine = create_engine(fresh_database_url)
    try:
        await migrate.upgrade(engine)
        tenant = await make_tenant(
            async_sessionmaker(engine, expire_on_commit=False),
            settings,
            prefix="99003",
            name="丙村",
            office_code="99103",
        )
        await migrate.downgrade(engine, "0012")
        # Two cases on 2 December in Tokyo (the first at 08:30, i.e. 1 December in UTC), one on 3 December.
        made = {
            "case_b": dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC),
            "case_a": dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC),
            "case_c": dt.datetime(2026, 12, 2, 15, 30, tzinfo=dt.UTC),
        }
        async with engine.begin() as conn:
            for case_id, at in made.items():
                await conn.execute(
                    text(
                        "INSERT INTO counter_case (id, municipality_code, post_office_id, designation_id, procedure,"
                        " state, version, created_by_device_id, created_at, updated_at, state_entered_at)"
                        " VALUES (:id, :m, :p, :d, 'application_support', 'closed', 1, :dev, :at, :at, :at)"
                    ),
                    {
                        "id": case_id,
                        "m": tenant.municipality_code,
                        "p": tenant.post_office_id,
                        "d": tenant.designation_id,
                        "dev": tenant.device_id,
                        "at": at,
                    },
                )
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, reference FROM counter_case"))).all()
            references: dict[str, str] = {str(row[0]): str(row[1]) for row in rows}
            counters = (
                await conn.execute(text("SELECT day, last_seq FROM case_reference_counter ORDER BY day"))
            ).all()
    finally:
        await engine.dispose()
    assert references == {"case_a": "99103-1202-001", "case_b": "99103-1202-002", "case_c": "99103-1203-001"}
    # New cases of those days count on from the numbers given.
    assert [(str(day)[:10], seq) for day, seq in counters] == [("2026-12-02", 2), ("2026-12-03", 1)]
