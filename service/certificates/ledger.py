"""The fee ledger: per office and day (the cash register's figures), and the monthly settlement per municipality."""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
from collections import defaultdict

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import MUNICIPAL_ROLES, Principal, PrincipalKind, Role
from service.audit import service as audit
from service.certificates import repository
from service.errors import PermissionDenied
from service.tenancy import repository as tenancy_repository
from service.tenancy import service as tenancy_service
from service.wire.certificates import KIND_LABELS, CertificateKind


class LedgerLine(BaseModel):
    municipality_code: str
    kind: CertificateKind
    fees: int  # jobs whose fee was taken
    certificates: int  # copies (a job may ask for several)
    collected_yen: int
    refunded_yen: int


class DayLedger(BaseModel):
    """GET /api/v1/certificates/ledger: one office's day, per municipality and kind."""

    post_office_id: str
    day: dt.date
    lines: list[LedgerLine]
    total_yen: int


async def day_ledger(
    session: AsyncSession, *, principal: Principal, post_office_id: str | None, day: dt.date
) -> DayLedger:
    """A device sees its own office; a municipality's staff see their municipality's lines at any office."""
    municipality: str | None = None
    if principal.kind is PrincipalKind.device:
        if post_office_id not in (None, principal.post_office_id):
            raise PermissionDenied("a device reads its own office's ledger")
        post_office_id = principal.post_office_id
    elif principal.kind is PrincipalKind.account and principal.role in MUNICIPAL_ROLES:
        municipality = principal.municipality_code
    elif not (principal.kind is PrincipalKind.account and principal.role is Role.admin):
        raise PermissionDenied("not a reader of the fee ledger")
    if post_office_id is None:
        raise PermissionDenied("name the post office")
    entries = await repository.fee_entries(
        session, municipality_code=municipality, post_office_id=post_office_id, first_day=day, last_day=day
    )
    grouped: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for e in entries:
        line = grouped[(e.municipality_code, e.kind)]
        if e.entry == "fee":
            line[0] += 1
            line[1] += e.count
            line[2] += e.amount_yen
        else:
            line[3] += -e.amount_yen
    lines = [
        LedgerLine(
            municipality_code=code,
            kind=CertificateKind(kind),
            fees=v[0],
            certificates=v[1],
            collected_yen=v[2],
            refunded_yen=v[3],
        )
        for (code, kind), v in sorted(grouped.items())
    ]
    return DayLedger(
        post_office_id=post_office_id,
        day=day,
        lines=lines,
        total_yen=sum(line.collected_yen - line.refunded_yen for line in lines),
    )


def _month(text: str) -> tuple[dt.date, dt.date]:
    year, month = (int(p) for p in text.split("-"))
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


class SettlementRow(BaseModel):
    day: dt.date
    office_code: str
    office_name: str
    kind: CertificateKind
    fees: int
    certificates: int
    collected_yen: int
    refunded_yen: int


class Settlement(BaseModel):
    """A municipality's month of fees and refunds, per day, office and kind (the CSV's and the PDF's rows)."""

    municipality_code: str
    municipality_name: str
    month: str
    rows: list[SettlementRow]
    fees: int
    certificates: int
    collected_yen: int
    refunded_yen: int


async def settlement(session: AsyncSession, *, principal: Principal, code: str, month: str) -> Settlement:
    """The month's ledger lines summed per day, office and kind; audited as an export."""
    allowed = principal.kind is PrincipalKind.account and (
        principal.role is Role.admin
        or (principal.role in MUNICIPAL_ROLES and principal.municipality_code == code)
    )
    if not allowed:
        raise PermissionDenied("the municipality's staff or an admin read its settlement")
    municipality = await tenancy_service.get_municipality(session, code)
    first, last = _month(month)
    entries = await repository.fee_entries(session, municipality_code=code, first_day=first, last_day=last)
    offices = {o.id: o for o in await tenancy_repository.list_post_offices(session)}
    totals: dict[tuple[dt.date, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for e in entries:
        row = totals[(e.day, e.post_office_id, e.kind)]
        if e.entry == "fee":
            row[0] += 1
            row[1] += e.count
            row[2] += e.amount_yen
        else:
            row[3] += -e.amount_yen
    rows = []
    for (day, office_id, kind), (fees, copies, collected, refunded) in sorted(totals.items()):
        office = offices.get(office_id)
        rows.append(
            SettlementRow(
                day=day,
                office_code=office.office_code if office else office_id,
                office_name=office.name if office else "",
                kind=CertificateKind(kind),
                fees=fees,
                certificates=copies,
                collected_yen=collected,
                refunded_yen=refunded,
            )
        )
    await audit.record(
        session,
        actor=principal,
        action="certificate.settlement_exported",
        municipality_code=code,
        object_type="certificate_settlement",
        object_id=f"{code}:{month}",
    )
    return Settlement(
        municipality_code=code,
        municipality_name=municipality.name,
        month=month,
        rows=rows,
        fees=sum(r.fees for r in rows),
        certificates=sum(r.certificates for r in rows),
        collected_yen=sum(r.collected_yen for r in rows),
        refunded_yen=sum(r.refunded_yen for r in rows),
    )


async def settlement_csv(session: AsyncSession, *, principal: Principal, code: str, month: str) -> str:
    """The month's fees and refunds per office, day and kind, as CSV (UTF-8 with BOM, for spreadsheet software)."""
    found = await settlement(session, principal=principal, code=code, month=month)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "団体コード",
            "日付",
            "郵便局コード",
            "郵便局",
            "証明書",
            "件数",
            "通数",
            "手数料(円)",
            "返金(円)",
            "差引(円)",
        ]
    )
    for r in found.rows:
        writer.writerow(
            [
                code,
                r.day.isoformat(),
                r.office_code,
                r.office_name,
                KIND_LABELS[r.kind][0],
                r.fees,
                r.certificates,
                r.collected_yen,
                r.refunded_yen,
                r.collected_yen - r.refunded_yen,
            ]
        )
    writer.writerow(
        [
            code,
            month,
            "",
            "合計",
            "",
            found.fees,
            found.certificates,
            found.collected_yen,
            found.refunded_yen,
            found.collected_yen - found.refunded_yen,
        ]
    )
    return "\ufeff" + out.getvalue()
