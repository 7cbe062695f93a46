"""The reports page (報告・統計) in Chromium against a real hub: charts, languages, downloads, print, and who sees what.

One hub and one Chromium for the module: a supervisor of tenant A sees the month's charts beside the queue, reads
them in English and back, downloads the xlsx, CSV and PDF (read back here with openpyxl, csv and the PDF's own
structure) and sees the hub refuse a download in words; a manager of A reads the same figures with no queue or
case in reach; the ministry reads the national view, where tenant B's single case is withheld as "<3" beside the
hub's rule; tenant B's supervisor sees B's figures and never A's. Screenshots go to var/artifacts/console/.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import service as accounts_service
from service.accounts.roles import SYSTEM, Role
from service.config import Settings
from service.db import unit_of_work
from service.kit import clock
from tests._seen import assert_clean, assert_in_viewport
from tests.factories import PASSWORD, World, shinseisho_id
from tests.municipal_console.test_console_e2e import WAIT_MS, log_in
from tests.service.conftest import CaseDriver

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FORMATS = ("xlsx", "csv", "pdf")


async def _account(
    sessionmaker: async_sessionmaker[AsyncSession], username: str, role: Role, municipality_code: str | None
) -> str:
    async with unit_of_work(sessionmaker) as session:
        await accounts_service.create_account(
            session,
            actor=SYSTEM,
            username=username,
            display_name=f"試験 {role.value}",
            role=role,
            password=PASSWORD,
            municipality_code=municipality_code,
            post_office_id=None,
        )
    return username


async def _month_of_activity(driver: CaseDriver, world: World) -> None:
    """Tenant A: three cases received this month, one rejected (face), one withdrawn; tenant B: one received."""
    for _ in range(2):
        case = await driver.create("card_renewal")
        await driver.device(case["id"], "check-in")
    withdrawn = await driver.create("card_renewal")
    await driver.device(withdrawn["id"], "check-in")
    await driver.device(withdrawn["id"], "withdraw", reason_code="applicant_request")
    reviewing = await driver.to_review("card_renewal")
    await driver.officer(reviewing["id"], "reject", attested=True, reason_code="face_mismatch")
    body = {
        "municipality_code": world.b.municipality_code,
        "procedure": "card_renewal",
        "shinseisho_id": shinseisho_id(),
    }
    created = await world.device_b.post("/api/v1/cases", json=body)
    assert created.status_code == 201, created.text
    checked_in = await world.device_b.post(f"/api/v1/cases/{created.json()['id']}/check-in", json={})
    assert checked_in.status_code == 200, checked_in.text


async def _page(browser: Browser, hub_url: str, username: str) -> tuple[BrowserContext, Page, list[str]]:
    """A fresh context signed in as `username`, with the page errors and CSP violations it reports."""
    context = await browser.new_context(
        viewport={"width": 1440, "height": 1000}, locale="ja-JP", accept_downloads=True
    )
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    await page.goto(f"{hub_url}/console/")
    await log_in(page, username)
    return context, page, errors


async def _charts_drawn(page: Page, names: tuple[str, ...]) -> None:
    """Each chart is an SVG image named by its <title> and <desc>, followed by its table behind a button."""
    await expect(page.locator("#screen-reports")).to_be_visible()
    for name in names:
        chart = page.locator(f"figure.chart[data-chart='{name}']")
        await expect(chart).to_be_visible()
        svg = chart.locator("svg.chart-svg")
        assert await svg.get_attribute("role") == "img"
        labelled = (await svg.get_attribute("aria-labelledby") or "").split()
        assert len(labelled) == 2, labelled
        title = await page.locator(f"[id='{labelled[0]}']").text_content()
        desc = await page.locator(f"[id='{labelled[1]}']").text_content()
        assert title
        assert desc
        assert await chart.locator("table.chart-table").count() == 1


async def _open_table_by_keyboard(page: Page, chart: str) -> None:
    """Tab to a chart's table button and open it with Enter: the figures as rows, announced as expanded."""
    toggle = page.locator(f"figure.chart[data-chart='{chart}'] .chart-toggle")
    await toggle.focus()
    await page.keyboard.press("Enter")
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(page.locator(f"figure.chart[data-chart='{chart}'] table.chart-table")).to_be_visible()


async def _languages(page: Page, shot: Path) -> None:
    """English and back: the headings follow and nothing raw or foreign is left on either screen."""
    await page.click("#lang-toggle")
    await expect(page.locator("#reports-title")).to_have_text("Reports")
    await expect(page.locator("figure.chart figcaption").first).not_to_contain_text("件")
    await assert_clean(page, "en")
    await page.screenshot(path=str(shot), full_page=True)
    await page.click("#lang-toggle")
    await expect(page.locator("#reports-title")).to_have_text("報告・統計")
    await assert_clean(page)


_WATCH_BUSY = """() => {
  window.__busySeen = [];
  const note = (what) => { if (!window.__busySeen.includes(what)) window.__busySeen.push(what); };
  const watch = new MutationObserver(() => {
    for (const fmt of ["xlsx", "csv", "pdf"]) {
      const button = document.getElementById(`download-${fmt}`);
      if (button.disabled) note(`${fmt}-disabled`);
      if (button.getAttribute("aria-busy") === "true") note(`${fmt}-busy`);
    }
    if (!document.getElementById("download-progress").hidden) note("progress-shown");
  });
  watch.observe(document.querySelector(".reports-downloads"), { attributes: true, subtree: true });
}"""


async def _download(page: Page, fmt: str, tmp_path: Path) -> Path:
    """Click the format's button; it is disabled while the hub builds the file; the file the browser saves."""
    button = page.locator(f"#download-{fmt}")
    await assert_in_viewport(page, f"#download-{fmt}")
    # What the buttons and the progress bar went through while the file was built, recorded as it happened.
    await page.evaluate(_WATCH_BUSY)
    async with page.expect_download() as info:
        await button.click()
    download = await info.value
    seen: list[str] = await page.evaluate("() => window.__busySeen")
    assert {"xlsx-disabled", "csv-disabled", "pdf-disabled", f"{fmt}-busy", "progress-shown"} <= set(seen), (
        seen
    )
    target = tmp_path / download.suggested_filename
    await download.save_as(target)
    await expect(page.locator("#download-state")).to_contain_text(download.suggested_filename)
    await expect(button).to_be_enabled()
    await expect(page.locator("#download-progress")).to_be_hidden()
    return target


def _csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel in Japan needs the UTF-8 BOM"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def _pdf_pages(path: Path) -> int:
    raw = path.read_bytes()
    assert raw.startswith(b"%PDF-"), raw[:16]
    assert raw.rstrip().endswith(b"%%EOF")
    return len(re.findall(rb"/Type\s*/Page[^s]", raw))


async def test_reports_page_for_supervisor_manager_ministry_and_another_town(
    browser: Browser,
    hub_url: str,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    await _month_of_activity(driver, world)
    manager = await _account(sessionmaker, "manager-99001", Role.manager, world.a.municipality_code)
    ministry = await _account(sessionmaker, "ministry-test", Role.ministry, None)
    month = clock.now().astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m")

    # Tenant A's supervisor: the queue first, the reports one keyboard step away.
    context, page, errors = await _page(browser, hub_url, world.a.usernames[Role.supervisor])
    await expect(page.locator("#screen-supervisor")).to_be_visible()
    await page.locator("#nav-reports").focus()
    await page.keyboard.press("Enter")
    await _charts_drawn(page, ("daily", "offices", "procedures", "pipeline", "reasons", "certificates"))
    await expect(page.locator("#nav-reports")).to_have_attribute("aria-current", "page")
    # Certificates per kind, labelled from the contract's CERTIFICATE_KINDS (none issued in this month).
    await expect(page.locator("figure.chart[data-chart=certificates] svg")).to_contain_text("住民票の写し")
    await expect(page.locator("section[data-chart=certificate-fees] tbody tr")).to_have_count(8)
    await expect(page.locator("#reports-totals [data-figure=received] dd")).to_have_text("4")
    await expect(page.locator("#reports-totals [data-figure=rejected] dd")).to_have_text("1")
    await expect(page.locator("#reports-scope")).to_contain_text("甲市")
    reasons = page.locator("figure.chart[data-chart=reasons] .chart-bar")
    await expect(reasons).to_have_count(2)
    await expect(page.locator("figure.chart[data-chart=reasons] svg")).to_contain_text("顔")
    await _open_table_by_keyboard(page, "offices")
    await expect(page.locator("figure.chart[data-chart=offices] table.chart-table tbody tr")).to_contain_text(
        ["甲市郵便局"]
    )
    await assert_clean(page)
    await page.screenshot(path=str(artifacts / "30-reports-supervisor.png"), full_page=True)
    await _languages(page, artifacts / "30-reports-supervisor-en.png")

    # One slice: a post office; the daily chart says it is still the whole town's.
    await page.select_option("#reports-office", label="甲市郵便局")
    await page.click("#reports-show")
    await expect(page.locator("#reports-scope")).to_contain_text("甲市郵便局")
    await expect(page.locator("#reports-totals [data-figure=received] dd")).to_have_text("4")
    await page.select_option("#reports-office", value="")
    await page.click("#reports-show")

    files = {fmt: await _download(page, fmt, tmp_path) for fmt in FORMATS}
    book = openpyxl.load_workbook(files["xlsx"])
    assert book.sheetnames == ["集計", "日別", "局別", "手続別", "指定", "証明書"]
    summary = {str(row[0]): row[1] for row in book["集計"].iter_rows(min_row=2, values_only=True)}
    assert summary["団体コード"] == world.a.municipality_code
    assert summary["対象月 / month"] == month
    assert summary["受付件数 / Received"] == 4
    rows = _csv_rows(files["csv"])
    assert rows[0][:4] == ["団体コード", "区分 / slice", "日付・局・手続 / key", "名称 / name"]
    total = next(row for row in rows if row[1] == "月計 / month")
    assert total[rows[0].index("受付件数 / Received")] == "4"
    assert all(world.b.municipality_code not in row for row in rows)
    assert _pdf_pages(files["pdf"]) >= 1

    # The hub refuses a download (a month outside its range): the words say which file and why; nothing stays busy.
    async def other_month(route: Route) -> None:
        await route.continue_(url=route.request.url.replace(f"/months/{month}/", "/months/1999-01/"))

    await page.route("**/report.csv", other_month)
    await page.click("#download-csv")
    refusal = page.locator("#screen-reports .field-error")
    await expect(refusal).to_contain_text("CSV形式のファイルをダウンロードできませんでした")
    assert await refusal.get_attribute("data-code")
    await expect(page.locator("#download-csv")).to_be_enabled()
    await expect(page.locator("#download-progress")).to_be_hidden()
    await page.unroute("**/report.csv", other_month)

    # Printed: the figures and every chart's table, no buttons or filters.
    await page.emulate_media(media="print")
    await expect(page.locator("#reports-filter")).to_be_hidden()
    await expect(page.locator(".reports-downloads")).to_be_hidden()
    await expect(page.locator("figure.chart[data-chart=daily] table.chart-table")).to_be_visible()
    await expect(page.locator(".bar")).to_be_hidden()
    await page.screenshot(path=str(artifacts / "31-reports-supervisor-print.png"), full_page=True)
    await page.emulate_media(media="screen")
    assert errors == []
    await context.close()

    # Tenant A's manager: the same figures, and no queue, case or navigation to them.
    context, page, errors = await _page(browser, hub_url, manager)
    await _charts_drawn(page, ("daily", "offices", "procedures"))
    await expect(page.locator("#reports-totals [data-figure=received] dd")).to_have_text("4")
    for hidden in ("#nav", "#screen-supervisor", "#screen-queue", "#screen-live"):
        await expect(page.locator(hidden)).to_be_hidden()
    await expect(page.locator("#who")).to_contain_text("管理者")
    queue = await page.evaluate(
        "async () => (await fetch('/api/v1/queue', {headers: {Authorization: 'Bearer ' +"
        " JSON.parse(sessionStorage.getItem('madoguchi.console.session')).access_token}})).status"
    )
    assert queue in {403, 404}, queue
    await assert_clean(page)
    await page.screenshot(path=str(artifacts / "32-reports-manager.png"), full_page=True)
    assert errors == []
    await context.close()

    # The ministry: the national view only, B's single case withheld as "<3" with the hub's rule beside it.
    context, page, errors = await _page(browser, hub_url, ministry)
    await _charts_drawn(
        page, ("programmes-offices", "programmes-municipalities", "prefectures", "municipalities")
    )
    await expect(page.locator("#reports-scope")).to_contain_text("全国")
    await expect(page.locator("#reports-suppressed")).to_contain_text("<3")
    await expect(page.locator("#reports-office-field")).to_be_hidden()
    for hidden in ("#nav", "#screen-supervisor", "#screen-queue"):
        await expect(page.locator(hidden)).to_be_hidden()
    municipalities = page.locator("figure.chart[data-chart=municipalities]")
    await expect(municipalities.locator(".chart-bar.suppressed").first).to_be_visible()
    await expect(municipalities.locator(".chart-note")).to_contain_text("<3")
    # The prefecture's five cases are published, so its chart carries no "<3" note.
    await expect(page.locator("figure.chart[data-chart=prefectures] .chart-note")).to_have_count(0)
    await expect(page.locator("#reports-totals [data-figure=received] dd")).to_have_text("5")
    text = await page.locator("#screen-reports").inner_text()
    assert "甲市郵便局" not in text  # offices are counted, never listed by name for the ministry
    await assert_clean(page)
    await page.screenshot(path=str(artifacts / "33-reports-ministry.png"), full_page=True)
    await _languages(page, artifacts / "33-reports-ministry-en.png")
    (tmp_path / "national").mkdir()
    files = {fmt: await _download(page, fmt, tmp_path / "national") for fmt in FORMATS}
    book = openpyxl.load_workbook(files["xlsx"])
    assert book.sheetnames[0] == "公表用"
    public = list(book["公表用"].iter_rows(values_only=True))
    assert list(public[0][:4]) == ["都道府県名", "市区町村名", "団体コード", "指定郵便局数"]
    codes = {str(row[2]) for row in public[1:]}
    assert {world.a.municipality_code, world.b.municipality_code} <= codes
    b_row = next(row for row in public[1:] if str(row[2]) == world.b.municipality_code)
    assert b_row[4] == "<3"
    rows = _csv_rows(files["csv"])
    assert rows[0][0] == "団体コード"
    assert any(row[0] == world.b.municipality_code and "<3" in row for row in rows[1:])
    assert _pdf_pages(files["pdf"]) >= 1
    assert errors == []
    await context.close()

    # Tenant B's supervisor: B's own month, never A's figures, and A's report is "not found" to B.
    context, page, errors = await _page(browser, hub_url, world.b.usernames[Role.supervisor])
    await page.click("#nav-reports")
    await _charts_drawn(page, ("daily", "offices"))
    await expect(page.locator("#reports-scope")).to_contain_text("乙町")
    await expect(page.locator("#reports-totals [data-figure=received] dd")).to_have_text("1")
    text = await page.locator("#screen-reports").inner_text()
    assert "甲市" not in text
    foreign = await page.evaluate(
        "async (path) => (await fetch(path, {headers: {Authorization: 'Bearer ' +"
        " JSON.parse(sessionStorage.getItem('madoguchi.console.session')).access_token}})).status",
        f"/api/v1/reports/municipalities/{world.a.municipality_code}/months/{month}",
    )
    assert foreign == 404
    await assert_clean(page)
    assert errors == []
    await context.close()
