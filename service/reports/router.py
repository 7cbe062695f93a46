"""Reports endpoints: the caller's scope, a municipality's month, the national view, and their exports."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from service.accounts.deps import ApiKeyScope, AppSettings, CurrentPrincipal
from service.accounts.roles import Principal, Scope
from service.db import DBSession
from service.errors import PermissionDenied, Unauthenticated, problem_responses
from service.reports import exports
from service.reports import service as reports_service
from service.reports.calendar import Month
from service.reports.exceptions import ReportNotFound
from service.wire.reports import MONTH_PATTERN, MunicipalReport, NationalReport, ReportsScope

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

ReportsReader = Annotated[Principal, Depends(ApiKeyScope(Scope.reports_read))]
MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN, examples=["2026-10"])]
CodePath = Annotated[str, Path(pattern=r"^[0-9]{6}$", examples=["131016"])]
_MUNICIPAL_ERRORS = problem_responses(Unauthenticated, PermissionDenied, ReportNotFound)
_NATIONAL_ERRORS = problem_responses(Unauthenticated, PermissionDenied)


def download(body: bytes, media_type: str, filename: str) -> Response:
    """A file response the browser saves under `filename`."""
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


def _media(media_type: str) -> dict[int | str, dict[str, object]]:
    return {200: {"content": {media_type: {}}, "description": "The report as a file"}}


@router.get("/scope", response_model=ReportsScope, responses=_NATIONAL_ERRORS)
async def read_scope(session: DBSession, principal: ReportsReader, settings: AppSettings) -> ReportsScope:
    """Which reports the caller may read, and the months on offer (every role; the reports page starts here)."""
    return await reports_service.scope(session, principal=principal, tz=ZoneInfo(settings.timezone))


async def _municipal(
    session: DBSession, principal: Principal, settings: AppSettings, code: str, month: str
) -> MunicipalReport:
    tz = ZoneInfo(settings.timezone)
    return await reports_service.municipal_report(
        session, principal=principal, municipality_code=code, month=Month.parse(month, tz)
    )


@router.get(
    "/municipalities/{municipality_code}/months/{month}",
    response_model=MunicipalReport,
    responses=_MUNICIPAL_ERRORS,
)
async def read_municipal_report(
    municipality_code: CodePath,
    month: MonthPath,
    session: DBSession,
    principal: ReportsReader,
    settings: AppSettings,
) -> MunicipalReport:
    """A municipality's month: totals, per day, office and procedure (its supervisors, managers, reports:read keys)."""
    return await _municipal(session, principal, settings, municipality_code, month)


@router.get(
    "/municipalities/{municipality_code}/months/{month}/report.xlsx",
    response_class=Response,
    responses={**_MUNICIPAL_ERRORS, **_media(exports.XLSX)},
)
async def municipal_xlsx(
    municipality_code: CodePath,
    month: MonthPath,
    session: DBSession,
    principal: ReportsReader,
    settings: AppSettings,
) -> Response:
    """The month as a spreadsheet: 集計, per day, per office, per procedure (xlsx)."""
    report = await _municipal(session, principal, settings, municipality_code, month)
    return download(exports.municipal_xlsx(report), exports.XLSX, f"report-{municipality_code}-{month}.xlsx")


@router.get(
    "/municipalities/{municipality_code}/months/{month}/report.csv",
    response_class=Response,
    responses={**_MUNICIPAL_ERRORS, **_media(exports.CSV)},
)
async def municipal_csv(
    municipality_code: CodePath,
    month: MonthPath,
    session: DBSession,
    principal: ReportsReader,
    settings: AppSettings,
) -> Response:
    """The month per day and per office as CSV (UTF-8 with BOM, for Excel)."""
    report = await _municipal(session, principal, settings, municipality_code, month)
    return download(exports.municipal_csv(report), exports.CSV, f"report-{municipality_code}-{month}.csv")


@router.get(
    "/municipalities/{municipality_code}/months/{month}/report.pdf",
    response_class=Response,
    responses={**_MUNICIPAL_ERRORS, **_media(exports.PDF)},
)
async def municipal_pdf(
    municipality_code: CodePath,
    month: MonthPath,
    session: DBSession,
    principal: ReportsReader,
    settings: AppSettings,
) -> Response:
    """The monthly report as a PDF with its charts (Japanese)."""
    report = await _municipal(session, principal, settings, municipality_code, month)
    return download(exports.municipal_pdf(report), exports.PDF, f"report-{municipality_code}-{month}.pdf")


async def _national(
    session: DBSession, principal: Principal, settings: AppSettings, month: str
) -> NationalReport:
    tz = ZoneInfo(settings.timezone)
    return await reports_service.national_report(session, principal=principal, month=Month.parse(month, tz))


@router.get("/national/months/{month}", response_model=NationalReport, responses=_NATIONAL_ERRORS)
async def read_national_report(
    month: MonthPath, session: DBSession, principal: CurrentPrincipal, settings: AppSettings
) -> NationalReport:
    """All municipalities aggregated, small counts withheld (ministry accounts only)."""
    return await _national(session, principal, settings, month)


@router.get(
    "/national/months/{month}/report.xlsx",
    response_class=Response,
    responses={**_NATIONAL_ERRORS, **_media(exports.XLSX)},
)
async def national_xlsx(
    month: MonthPath, session: DBSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    """The national view as a spreadsheet, with a 「公表用」-style sheet per municipality and its 団体コード."""
    report = await _national(session, principal, settings, month)
    return download(exports.national_xlsx(report), exports.XLSX, f"national-{month}.xlsx")


@router.get(
    "/national/months/{month}/report.csv",
    response_class=Response,
    responses={**_NATIONAL_ERRORS, **_media(exports.CSV)},
)
async def national_csv(
    month: MonthPath, session: DBSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    """The national view per municipality as CSV (UTF-8 with BOM); withheld counts read "<3"."""
    report = await _national(session, principal, settings, month)
    return download(exports.national_csv(report), exports.CSV, f"national-{month}.csv")


@router.get(
    "/national/months/{month}/report.pdf",
    response_class=Response,
    responses={**_NATIONAL_ERRORS, **_media(exports.PDF)},
)
async def national_pdf(
    month: MonthPath, session: DBSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    """The national view as a PDF with its charts (Japanese)."""
    report = await _national(session, principal, settings, month)
    return download(exports.national_pdf(report), exports.PDF, f"national-{month}.pdf")
