"""Certificates issued at post offices in the municipal report: known counts, per kind, day and office, in every
export, and a past month that does not change (docs/reports.md §Certificates)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.config import Settings
from tests.clerk_agent.app._pdf import pdf_lines
from tests.factories import login
from tests.service.reports_certificates import (
    EXPECTED_DAYS,
    EXPECTED_KINDS,
    EXPECTED_TOTALS,
    build_certificates,
    figures,
    refund_later,
)
from tests.service.reports_month import MONTH, build_month


async def _get(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def test_certificates_of_a_known_month_in_the_report_and_its_exports(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    built = await build_month(sessionmaker, settings)
    code = built.tenant.municipality_code
    refunded = await build_certificates(
        sessionmaker, code=code, office_1=built.tenant.post_office_id, office_2=built.office_2
    )
    headers = await login(client, built.tenant.usernames[Role.supervisor])
    base = f"/api/v1/reports/municipalities/{code}/months"
    report: dict[str, Any] = (await _get(client, f"{base}/{MONTH}", headers)).json()
    series = report["certificates"]
    assert series["available"] is True
    assert series["totals"] == EXPECTED_TOTALS
    assert {k["kind"]: k["figures"] for k in series["kinds"]} == EXPECTED_KINDS
    assert [k["kind"] for k in series["kinds"]] == list(EXPECTED_KINDS)
    days = {d["day"]: d["figures"] for d in series["by_day"]}
    assert len(days) == 30
    assert {d: f for d, f in days.items() if f != figures()} == EXPECTED_DAYS
    offices = {o["office_code"]: o for o in series["by_office"]}
    assert list(offices) == ["93011", "93012"]
    assert offices["93011"]["figures"] == figures(
        issued=3, handed_over=4, reprints=1, voided=1, fees=3, collected_yen=1350, refunded_yen=300
    )
    assert [k["kind"] for k in offices["93011"]["kinds"]] == ["juminhyo", "inkan", "koseki_zenbu"]
    assert offices["93012"]["kinds"] == [{"kind": "juminhyo", "figures": figures(issued=1)}]
    # No personal data: codes, ids of offices and counts only.
    assert set(series) == {"available", "totals", "kinds", "by_day", "by_office"}

    october = (await _get(client, f"{base}/2026-10", headers)).json()["certificates"]
    assert october["totals"] == figures(voided=1)  # job C's copy, voided after midnight on 1 October

    # November's refund of job A belongs to November: September's report is the same when run again.
    await refund_later(sessionmaker, code=code, job_id=refunded)
    again = (await _get(client, f"{base}/{MONTH}", headers)).json()
    assert again["certificates"] == series
    november = (await _get(client, f"{base}/2026-11", headers)).json()["certificates"]
    assert november["totals"] == figures(refunded_yen=600)

    book = load_workbook(io.BytesIO((await _get(client, f"{base}/{MONTH}/report.xlsx", headers)).content))
    sheet = list(book["証明書"].iter_rows(values_only=True))
    head = list(sheet[0])
    rows = [dict(zip(head, r, strict=True)) for r in sheet[1:]]
    by_kind = {r["証明書 / kind"]: r for r in rows if r["区分 / slice"] == "種類別 / kind"}
    assert by_kind["印鑑登録証明書"]["再印刷 / Reprints"] == 1
    assert by_kind["住民票の写し"]["交付通数（初回印刷） / Copies issued (first print)"] == 3
    assert rows[-1]["手数料（円） / Fees collected (yen)"] == 1350
    summary = {r[0]: r[1] for r in book["集計"].iter_rows(min_row=2, values_only=True)}
    assert summary["証明書 / certificates: 返金（円） / Refunded (yen)"] == 300

    text = (await _get(client, f"{base}/{MONTH}/report.csv", headers)).content.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    blank = table.index([])
    certificates = [dict(zip(table[blank + 1], r, strict=True)) for r in table[blank + 2 :]]
    assert certificates[-1]["区分 / slice"] == "月計 / month"
    assert certificates[-1]["引渡し通数 / Copies handed over"] == "4"
    office_rows = [r for r in certificates if r["区分 / slice"] == "局別 / office"]
    assert [(r["日付・局 / key"], r["証明書 / kind"]) for r in office_rows] == [
        ("93011", "住民票の写し"),
        ("93011", "印鑑登録証明書"),
        ("93011", "戸籍全部事項証明書"),
        ("93012", "住民票の写し"),
    ]

    lines = pdf_lines((await _get(client, f"{base}/{MONTH}/report.pdf", headers)).content)
    assert any("証明書交付（郵便局）" in line for line in lines)
    assert any("交付 1通" in line and "再印刷 1" in line and "返金 300円" in line for line in lines)
    assert any("証明書の種類別交付通数" in line for line in lines)
