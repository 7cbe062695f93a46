"""The 受付番号: every case gets a short reference at creation, office-MMDD-sequence in Tokyo time, unique.

People read and say the reference; the case id stays in URLs and APIs (docs/domain.md §B4.1).
"""

from __future__ import annotations

import datetime as dt
import re

import httpx

from service.accounts.roles import Role
from service.kit import clock
from tests.factories import World

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
