"""The ministry's national view: programmes and designations per prefecture, activity with small counts withheld."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import service as accounts_service
from service.accounts.roles import SYSTEM, Role
from service.config import Settings
from service.db import unit_of_work
from tests.factories import PASSWORD, login
from tests.service.reports_national import build_nation


async def ministry_headers(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> dict[str, str]:
    async with unit_of_work(sessionmaker) as session:
        await accounts_service.create_account(
            session,
            actor=SYSTEM,
            username="ministry-test",
            display_name="総務省 試験",
            role=Role.ministry,
            password=PASSWORD,
            municipality_code=None,
            post_office_id=None,
        )
    return await login(client, "ministry-test")


async def test_the_national_view_counts_bodies_and_offices_and_withholds_small_counts(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    tenants = await build_nation(sessionmaker, settings)
    response = await client.get(
        "/api/v1/reports/national/months/2026-09", headers=await ministry_headers(client, sessionmaker)
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    assert report["as_of"] == "2026-09-30"
    assert (
        report["municipalities_in_force"],
        report["offices_in_force"],
        report["municipalities_planned"],
        report["offices_planned"],
    ) == (3, 4, 1, 1)
    programmes = {p["procedure"]: p for p in report["programmes"]}
    assert programmes["application_support"] == {
        "procedure": "application_support",
        "municipalities_in_force": 3,
        "offices_in_force": 4,
        "municipalities_planned": 1,
        "offices_planned": 1,
    }
    assert programmes["card_application"]["offices_in_force"] == 3

    prefectures = {p["prefecture_code"]: p for p in report["by_prefecture"]}
    assert [(p["prefecture_code"], p["prefecture_name"]) for p in report["by_prefecture"]] == [
        ("01", "北海道"),
        ("13", "東京都"),
        ("27", "大阪府"),
    ]
    assert (prefectures["13"]["municipalities_in_force"], prefectures["13"]["offices_in_force"]) == (2, 3)
    assert (prefectures["01"]["municipalities_in_force"], prefectures["01"]["municipalities_planned"]) == (
        0,
        1,
    )
    # Osaka's single case is withheld; alone among the prefectures, so the next smallest (Tokyo's 6) is too.
    assert prefectures["27"]["activity"]["values"]["received"] is None
    assert prefectures["13"]["activity"]["values"]["received"] is None
    assert prefectures["13"]["activity"]["suppressed"] == ["received"]
    assert prefectures["01"]["activity"]["values"]["received"] == 0
    assert report["activity"]["values"]["received"] == 7
    assert report["activity"]["suppressed"] == []

    municipalities = {m["municipality_code"]: m for m in report["by_municipality"]}
    code = {prefix: t.municipality_code for prefix, t in tenants.items()}
    assert list(municipalities) == sorted(code.values())
    # In Tokyo 13991x's 2 is withheld and, alone in its prefecture, takes 13990x's 4 with it.
    assert municipalities[code["13991"]]["activity"]["values"]["received"] is None
    assert municipalities[code["13990"]]["activity"]["values"]["received"] is None
    assert municipalities[code["27990"]]["activity"]["values"]["received"] is None
    assert municipalities[code["01990"]]["activity"]["values"]["received"] == 0
    assert municipalities[code["13990"]]["offices_in_force"] == 2
    assert municipalities[code["13990"]]["prefecture_name"] == "東京都"
    assert municipalities[code["13990"]]["municipality_name"] == "試験区"
    # Nothing below the totals carries a count from 1 to 2.
    for row in [*report["by_prefecture"], *report["by_municipality"]]:
        assert all(v is None or v == 0 or v >= 3 for v in row["activity"]["values"].values()), row
