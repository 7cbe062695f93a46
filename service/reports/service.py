"""The reports: a municipality's month, and the national aggregate (docs/reports.md). Never commits; reads only."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal
from service.kit import clock
from service.reports import access, repository
from service.reports.calendar import Month, is_working_day, period_of
from service.reports.exceptions import ReportNotFound
from service.reports.figures import Entry, Tally, durations, figure_of, quantiles
from service.reports.prefectures import prefecture_of
from service.reports.suppression import suppressed_table, suppressed_total
from service.tenancy.models import Designation, PostOffice
from service.wire.cases import Procedure
from service.wire.certificates import CertificateKind as Kind
from service.wire.reports import (
    AVERAGED_FIGURES,
    CertificateDayFigures,
    CertificateFigures,
    CertificateKindFigures,
    CertificateOfficeFigures,
    CertificateSeries,
    ChannelFigures,
    DayFigures,
    DesignationInForce,
    Designations,
    Figures,
    MunicipalityRow,
    MunicipalReport,
    NationalReport,
    OfficeFigures,
    PrefectureRow,
    ProcedureFigures,
    ProgrammeCount,
    ReportsScope,
    Suppression,
    Timings,
    WorkingDayAverages,
)

# Waits and handling times that end in the month are measured from entries up to this long before it.
TIMING_LOOKBACK = dt.timedelta(days=1)
ECERT_PIN = (Procedure.ecert_issue_renew, Procedure.pin_reset)
# How many months the scope offers at most.
MAX_MONTHS = 36


async def municipal_report(
    session: AsyncSession, *, principal: Principal, municipality_code: str, month: Month
) -> MunicipalReport:
    """One municipality's month, from its state entries and designations (supervisor, manager, reports:read)."""
    access.require_municipal(principal, municipality_code)
    found = await repository.municipalities(session, {municipality_code})
    if municipality_code not in found:
        raise ReportNotFound()
    municipality = found[municipality_code]
    period = period_of(month)
    read = await repository.entries(
        session, since=month.start - TIMING_LOOKBACK, end=month.end, municipality_code=municipality_code
    )
    start = month.start
    inside = [e for e in read if e.entered_at >= start]

    totals = Tally()
    by_day: dict[dt.date, Tally] = defaultdict(Tally)
    by_office: dict[str, Tally] = defaultdict(Tally)
    by_procedure: dict[str, Tally] = defaultdict(Tally)
    by_channel: dict[str, Tally] = defaultdict(Tally)
    tz = month.tz
    for entry in inside:
        # One lookup per entry, four slices counted: this loop is most of a large month's time (bench/reports.py).
        name = figure_of(entry)
        if name is None:
            continue
        reason = entry.reason_code
        totals.count(name, reason)
        by_day[entry.entered_at.astimezone(tz).date()].count(name, reason)
        by_office[entry.post_office_id].count(name, reason)
        by_procedure[entry.procedure].count(name, reason)
        by_channel[entry.channel].count(name, reason)

    certificates, certificate_offices = await _certificates(session, month, municipality_code)
    designations = [
        d
        for d in await repository.designations(
            session, until_after=month.first_day, municipality_code=municipality_code
        )
        if d.valid_from <= month.last_day
    ]
    offices = await repository.offices(
        session, {d.post_office_id for d in designations} | set(by_office) | certificate_offices
    )
    closed = set(period.holidays)
    timing = durations(read, month.start, month.end)
    procedure_rows = [ProcedureFigures(procedure=p, figures=by_procedure[p].figures()) for p in Procedure]
    totals_figures = totals.figures()
    return MunicipalReport(
        municipality_code=municipality.code,
        municipality_name=municipality.name,
        period=period,
        generated_at=clock.now(),
        totals=totals_figures,
        by_day=[
            DayFigures(day=day, working_day=is_working_day(day, closed), figures=by_day[day].figures())
            for day in month.days()
        ],
        by_office=[
            OfficeFigures(
                post_office_id=office.id,
                office_code=office.office_code,
                office_name=office.name,
                figures=by_office[office.id].figures(),
            )
            for office in sorted(offices.values(), key=lambda o: o.office_code)
        ],
        by_procedure=procedure_rows,
        ecert_pin=[row for row in procedure_rows if row.procedure in ECERT_PIN],
        certificates=certificates.series(offices),
        timings=Timings(
            queue_wait_seconds=quantiles(timing.queue_waits),
            handling_seconds=quantiles(timing.handling),
            call_setup_ms=quantiles(
                await repository.call_setup_ms(
                    session, start=month.start, end=month.end, municipality_code=municipality_code
                )
            ),
            calls=timing.calls,
            drops=sum(timing.drops.values()),
            drops_by_reason=dict(sorted(timing.drops.items())),
        ),
        designations=_designations(designations, offices),
        working_day_averages=_averages(totals_figures, period.working_days),
        by_channel=[ChannelFigures(channel=c, figures=by_channel[c].figures()) for c in ("counter", "booth")],
    )


class _CertificateTally:
    """The certificate figures of one municipality's month, per day, office and kind."""

    def __init__(self, month: Month) -> None:
        self.month = month
        self.totals: Counter[str] = Counter()
        self.by_kind: dict[str, Counter[str]] = defaultdict(Counter)
        self.by_day: dict[dt.date, Counter[str]] = defaultdict(Counter)
        self.by_office: dict[str, Counter[str]] = defaultdict(Counter)
        self.by_office_kind: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)

    def count(self, event: repository.CertificateEvent) -> None:
        for tally in (
            self.totals,
            self.by_kind[event.kind],
            self.by_day[event.day],
            self.by_office[event.post_office_id],
            self.by_office_kind[(event.post_office_id, event.kind)],
        ):
            tally[event.figure] += event.amount

    def series(self, offices: dict[str, PostOffice]) -> CertificateSeries:
        def figures(counts: Counter[str]) -> CertificateFigures:
            return CertificateFigures.model_validate(dict(counts))

        return CertificateSeries(
            totals=figures(self.totals),
            kinds=[
                CertificateKindFigures(kind=k.value, figures=figures(self.by_kind[k.value])) for k in Kind
            ],
            by_day=[CertificateDayFigures(day=d, figures=figures(self.by_day[d])) for d in self.month.days()],
            by_office=[
                CertificateOfficeFigures(
                    post_office_id=office_id,
                    office_code=offices[office_id].office_code,
                    office_name=offices[office_id].name,
                    figures=figures(self.by_office[office_id]),
                    kinds=[
                        CertificateKindFigures(
                            kind=k.value, figures=figures(self.by_office_kind[(office_id, k)])
                        )
                        for k in Kind
                        if (office_id, k.value) in self.by_office_kind
                    ],
                )
                for office_id in sorted(self.by_office, key=lambda o: offices[o].office_code)
            ],
        )


async def _certificates(
    session: AsyncSession, month: Month, municipality_code: str
) -> tuple[_CertificateTally, set[str]]:
    tally = _CertificateTally(month)
    for event in await repository.certificate_events(
        session, month=month, municipality_code=municipality_code
    ):
        tally.count(event)
    return tally, set(tally.by_office)


def _designations(rows: list[Designation], offices: dict[str, PostOffice]) -> Designations:
    items = []
    for d in rows:
        office = offices[d.post_office_id]
        items.append(
            DesignationInForce(
                post_office_id=d.post_office_id,
                office_code=office.office_code,
                office_name=office.name,
                procedures=[Procedure(p) for p in d.procedures],
                valid_from=d.valid_from,
                valid_until=d.valid_until,
            )
        )
    by_procedure = {
        p.value: len({d.post_office_id for d in rows if p.value in d.procedures}) for p in Procedure
    }
    return Designations(
        in_force=len(rows),
        offices=len({d.post_office_id for d in rows}),
        by_procedure=by_procedure,
        items=sorted(items, key=lambda i: (i.office_code, i.valid_from)),
    )


def _averages(totals: Figures, working_days: int) -> WorkingDayAverages:
    values = totals.model_dump()
    return WorkingDayAverages(
        working_days=working_days,
        averages={
            name: round(values[name] / working_days, 2) if working_days else None for name in AVERAGED_FIGURES
        },
    )


async def national_report(session: AsyncSession, *, principal: Principal, month: Month) -> NationalReport:
    """Every municipality aggregated, with small activity counts withheld (ministry)."""
    access.require_national(principal)
    period = period_of(month)
    as_of = month.last_day
    rows = await repository.designations(session, until_after=as_of, municipality_code=None)
    in_force = [d for d in rows if d.valid_from <= as_of]
    planned = [d for d in rows if d.valid_from > as_of]
    read = await repository.entries(session, since=month.start, end=month.end, municipality_code=None)
    per_municipality: dict[str, Tally] = defaultdict(Tally)
    per_prefecture: dict[str, Tally] = defaultdict(Tally)
    national = Tally()
    for entry in read:
        name = figure_of(entry)
        if name is None:
            continue
        national.count(name, entry.reason_code)
        per_municipality[entry.municipality_code].count(name, entry.reason_code)
        per_prefecture[entry.municipality_code[:2]].count(name, entry.reason_code)

    codes = {d.municipality_code for d in rows} | set(per_municipality)
    names = await repository.municipalities(session, codes)
    prefecture_codes = sorted({prefecture_of(code)[0] for code in codes})
    prefecture_activity = suppressed_table(
        {p: per_prefecture[p].figures() for p in prefecture_codes}, groups=dict.fromkeys(prefecture_codes, "")
    )
    municipality_activity = suppressed_table(
        {c: per_municipality[c].figures() for c in sorted(codes)},
        groups={c: prefecture_of(c)[0] for c in codes},
    )

    def in_prefecture(designations: list[Designation], prefecture: str | None) -> list[Designation]:
        return [
            d
            for d in designations
            if prefecture is None or prefecture_of(d.municipality_code)[0] == prefecture
        ]

    def counts(prefecture: str | None) -> dict[str, int]:
        now, later = in_prefecture(in_force, prefecture), in_prefecture(planned, prefecture)
        bodies, offices = {d.municipality_code for d in now}, {d.post_office_id for d in now}
        return {
            "municipalities_in_force": len(bodies),
            "offices_in_force": len(offices),
            "municipalities_planned": len({d.municipality_code for d in later} - bodies),
            "offices_planned": len({d.post_office_id for d in later} - offices),
        }

    def programmes(prefecture: str | None) -> list[ProgrammeCount]:
        now, later = in_prefecture(in_force, prefecture), in_prefecture(planned, prefecture)
        out = []
        for p in Procedure:
            bodies = {d.municipality_code for d in now if p.value in d.procedures}
            offices = {d.post_office_id for d in now if p.value in d.procedures}
            out.append(
                ProgrammeCount(
                    procedure=p,
                    municipalities_in_force=len(bodies),
                    offices_in_force=len(offices),
                    municipalities_planned=len(
                        {d.municipality_code for d in later if p.value in d.procedures} - bodies
                    ),
                    offices_planned=len(
                        {d.post_office_id for d in later if p.value in d.procedures} - offices
                    ),
                )
            )
        return out

    return NationalReport(
        period=period,
        as_of=as_of,
        generated_at=clock.now(),
        suppression=Suppression(),
        programmes=programmes(None),
        activity=suppressed_total(national.figures()),
        by_prefecture=[
            PrefectureRow(
                prefecture_code=p,
                prefecture_name=prefecture_of(p + "0000")[1],
                programmes=programmes(p),
                activity=prefecture_activity[p],
                **counts(p),
            )
            for p in prefecture_codes
        ],
        by_municipality=[
            MunicipalityRow(
                municipality_code=code,
                prefecture_name=prefecture_of(code)[1],
                municipality_name=names[code].name if code in names else "",
                offices_in_force=len({d.post_office_id for d in in_force if d.municipality_code == code}),
                activity=municipality_activity[code],
            )
            for code in sorted(codes)
        ],
        **counts(None),
    )


async def scope(session: AsyncSession, *, principal: Principal, tz: ZoneInfo) -> ReportsScope:
    """What the caller may read, and the months on offer (newest first)."""
    municipal = access.may_read_municipal(principal)
    national = access.may_read_national(principal)
    code = principal.municipality_code if municipal else None
    name = None
    if code is not None:
        found = await repository.municipalities(session, {code})
        name = found[code].name if code in found else None
    current = Month.containing(clock.now(), tz)
    first = (
        await repository.first_activity(session, municipality_code=code) if (municipal or national) else None
    )
    months = [current]
    oldest = Month.containing(first, tz) if first is not None else current
    while len(months) < MAX_MONTHS and (months[-1].year, months[-1].month) > (oldest.year, oldest.month):
        months.append(months[-1].previous)
    return ReportsScope(
        role=principal.actor_label,
        municipality_code=code,
        municipality_name=name,
        municipal=municipal,
        national=national,
        months=[m.label for m in months],
    )


__all__ = ["Entry", "municipal_report", "national_report", "scope"]
