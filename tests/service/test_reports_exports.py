"""The exports read back with the libraries a reader uses: openpyxl, csv, and the PDF's own text (docs/reports.md §Exports)."""

from __future__ import annotations

import csv
import io

import httpx
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.config import Settings
from tests.clerk_agent.app._pdf import pdf_lines
from tests.factories import login
from tests.service.reports_month import MONTH, build_month
from tests.service.reports_national import build_nation
from tests.service.test_reports_national import ministry_headers

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _get(client: httpx.AsyncClient, url: str, headers: dict[str, str], media_type: str) -> bytes:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["content-disposition"].startswith("attachment; filename*=UTF-8''")
    return response.content


def _csv(body: bytes) -> list[list[str]]:
    # Excel in Japan needs the byte order mark to read UTF-8.
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


async def test_municipal_and_national_exports_open_with_the_expected_sheets_and_columns(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    built = await build_month(sessionmaker, settings)
    await build_nation(sessionmaker, settings)
    code = built.tenant.municipality_code
    supervisor = await login(client, built.tenant.usernames[Role.supervisor])
    base = f"/api/v1/reports/municipalities/{code}/months/{MONTH}/report"

    book = load_workbook(io.BytesIO(await _get(client, f"{base}.xlsx", supervisor, XLSX)), read_only=True)
    assert book.sheetnames == ["集計", "日別", "局別", "手続別", "指定", "証明書"]
    summary = {row[0]: row[1] for row in book["集計"].iter_rows(min_row=2, values_only=True)}
    assert summary["団体コード"] == code
    assert summary["開庁日数 / working days"] == 19
    assert summary["受付件数 / Received"] == 12
    assert summary["発送枚数 / Mailed"] == 3
    assert summary["待ち時間 p90 (秒) / queue wait p90 s"] == 600
    days = list(book["日別"].iter_rows(values_only=True))
    head = list(days[0])
    assert head[:4] == ["団体コード", "区分 / slice", "日付・局・手続 / key", "名称 / name"]
    assert len(days) == 31
    first = dict(zip(head, days[1], strict=True))
    assert (first["日付・局・手続 / key"], first["受付件数 / Received"], first["承認 / Approved"]) == (
        "2026-09-01",
        6,
        4,
    )
    offices = {row[2]: row[4] for row in book["局別"].iter_rows(min_row=2, values_only=True)}
    assert offices == {"93011": 10, "93012": 2}
    assert [row[0] for row in book["指定"].iter_rows(min_row=2, values_only=True)] == ["93011", "93012"]

    rows = _csv(await _get(client, f"{base}.csv", supervisor, "text/csv"))
    rows = rows[: rows.index([])]  # the certificates' table follows a blank line (test_reports_certificates)
    assert rows[0] == head
    assert len(rows) == 1 + 30 + 2 + 7 + 1  # header, days, offices, procedures, total
    total = dict(zip(rows[0], rows[-1], strict=True))
    assert (total["区分 / slice"], total["受付件数 / Received"], total["却下 / Rejected"]) == (
        "月計 / month",
        "12",
        "2",
    )

    text = pdf_lines(await _get(client, f"{base}.pdf", supervisor, "application/pdf"))
    assert any("月次報告" in line and MONTH in line for line in text)
    assert any(code in line for line in text)
    assert "受付件数 / Received" in text
    assert text[text.index("受付件数 / Received") + 1] == "12"
    assert any("日別の受付と承認" in line for line in text)

    ministry = await ministry_headers(client, sessionmaker)
    national = f"/api/v1/reports/national/months/{MONTH}/report"
    book = load_workbook(io.BytesIO(await _get(client, f"{national}.xlsx", ministry, XLSX)), read_only=True)
    assert book.sheetnames == ["公表用", "都道府県別", "取扱事務別", "注記"]
    public = list(book["公表用"].iter_rows(values_only=True))
    assert list(public[0][:4]) == ["都道府県名", "市区町村名", "団体コード", "指定郵便局数"]
    by_code = {row[2]: row for row in public[1:]}
    assert by_code[code][:2] == ("不明", "試験市")  # prefecture 99 is invented
    assert by_code[code][4] == 12  # 受付件数: not small, shown
    # 受付件数 withheld for 13990x, 13991x and 27990x (see test_reports_national); 試験市's 2 deliveries too.
    assert sorted(str(row[2]) for row in public[1:] if row[4] == "<3") == ["139904", "139912", "279901"]
    assert by_code[code][public[0].index("交付実施済み数（配達）")] == "<3"
    prefectures = list(book["都道府県別"].iter_rows(values_only=True))
    assert prefectures[-1][1] == "全国"
    rows = _csv(await _get(client, f"{national}.csv", ministry, "text/csv"))
    assert rows[0][:3] == ["団体コード", "都道府県名", "市区町村名"]
    assert {row[0] for row in rows[1:]} == set(by_code)
    text = pdf_lines(await _get(client, f"{national}.pdf", ministry, "application/pdf"))
    assert any("全国集計" in line for line in text)
    assert "<3" in text
