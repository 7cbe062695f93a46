"""Exports of a period's cases for the municipality: minimised (ids, codes, timestamps), no personal numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal, PrincipalKind, Role, Scope
from service.audit import service as audit
from service.errors import PermissionDenied
from service.integrations import repository
from service.integrations.exceptions import InvalidPeriod

MAX_DAYS = 366
MAX_ROWS = 100_000
# Deliberately without 申請書ID, officer or device: the export is for statistics and reconciliation by case id and
# 受付番号 (the number on the applicant's slip and in phone calls; docs/domain.md §B4.1).
COLUMNS = (
    "case_id",
    "reference",
    "post_office_id",
    "procedure",
    "state",
    "decision",
    "reason_code",
    "created_at",
    "state_entered_at",
    "updated_at",
)


@dataclass(frozen=True)
class ExportRow:
    case_id: str
    reference: str
    post_office_id: str
    procedure: str
    state: str
    decision: str | None
    reason_code: str | None
    created_at: dt.datetime
    state_entered_at: dt.datetime
    updated_at: dt.datetime

    def as_dict(self) -> dict[str, str | None]:
        """JSON-ready values (timestamps ISO 8601 UTC)."""
        return {
            c: (v.isoformat() if isinstance(v, dt.datetime) else v)
            for c in COLUMNS
            for v in (getattr(self, c),)
        }


def exporter_municipality(principal: Principal) -> str:
    """An integration key with cases:read, or a supervisor, of one municipality."""
    if (principal.kind is PrincipalKind.integration and Scope.cases_read in principal.scopes) or (
        principal.kind is PrincipalKind.account and principal.role is Role.supervisor
    ):
        code = principal.municipality_code
    else:
        raise PermissionDenied("exports are for the integration client (cases:read) or a supervisor")
    if code is None:
        raise PermissionDenied("no municipality")
    return code


async def export_cases(
    session: AsyncSession, *, principal: Principal, first_day: dt.date, last_day: dt.date, tz: ZoneInfo
) -> Sequence[ExportRow]:
    """Cases opened on first_day … last_day (local dates, inclusive); the export itself is audited."""
    municipality_code = exporter_municipality(principal)
    if last_day < first_day or (last_day - first_day).days >= MAX_DAYS:
        raise InvalidPeriod(f"period must run forwards and span at most {MAX_DAYS} days")
    start = dt.datetime.combine(first_day, dt.time(), tz)
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), tz)
    cases = await repository.cases_in_period(
        session, municipality_code=municipality_code, start=start, end=end, limit=MAX_ROWS
    )
    await audit.record(
        session,
        actor=principal,
        action="export.cases",
        municipality_code=municipality_code,
        object_type="case_export",
        object_id=f"{first_day.isoformat()}..{last_day.isoformat()}",
    )
    return [
        ExportRow(
            case_id=c.id,
            reference=c.reference,
            post_office_id=c.post_office_id,
            procedure=c.procedure,
            state=c.state,
            decision=c.decision,
            reason_code=c.reason_code,
            created_at=c.created_at,
            state_entered_at=c.state_entered_at,
            updated_at=c.updated_at,
        )
        for c in cases
    ]


def to_csv(rows: Sequence[ExportRow]) -> str:
    """CSV with a header row (UTF-8, CRLF as RFC 4180)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(row.as_dict())
    return out.getvalue()
