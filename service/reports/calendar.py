"""Months, days and working days of a report, in the hub's time zone (docs/reports.md §Calendar).

Japanese national holidays come from the maintained `holidays` package (国民の祝日に関する法律, its substitute
holidays and 国民の休日 included), not a hand list.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import holidays

from service.wire.reports import Period


@dataclass(frozen=True)
class Month:
    """A calendar month in a time zone, with its bounds as UTC-comparable instants."""

    year: int
    month: int
    tz: ZoneInfo

    @classmethod
    def parse(cls, text: str, tz: ZoneInfo) -> Month:
        """From "2026-10" (the API validates the pattern first)."""
        year, month = text.split("-")
        return cls(int(year), int(month), tz)

    @classmethod
    def containing(cls, when: dt.datetime, tz: ZoneInfo) -> Month:
        local = when.astimezone(tz)
        return cls(local.year, local.month, tz)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1, self.tz)

    @property
    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1, self.tz)

    @property
    def last_day(self) -> dt.date:
        return self.next.first_day - dt.timedelta(days=1)

    @property
    def start(self) -> dt.datetime:
        """Midnight of the first day, local time."""
        return dt.datetime.combine(self.first_day, dt.time(), self.tz)

    @property
    def end(self) -> dt.datetime:
        """Midnight after the last day, local time (exclusive)."""
        return self.next.start

    def days(self) -> list[dt.date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + dt.timedelta(days=i) for i in range(count)]


def _year_end_closure(day: dt.date) -> bool:
    """12/29–1/3: the days municipal offices are closed by law (地方自治法 §4-2, 年末年始の休日)."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def non_working_weekdays(month: Month) -> list[dt.date]:
    """Weekdays of the month that are national holidays or the year-end closure."""
    national = holidays.country_holidays("JP", years=month.year)
    return [d for d in month.days() if d.weekday() < 5 and (d in national or _year_end_closure(d))]


def is_working_day(day: dt.date, closed: set[dt.date]) -> bool:
    return day.weekday() < 5 and day not in closed


def period_of(month: Month) -> Period:
    """The report's Period: its days, working days and the holidays that took weekdays away."""
    closed = non_working_weekdays(month)
    days = month.days()
    return Period(
        month=month.label,
        first_day=month.first_day,
        last_day=month.last_day,
        timezone=month.tz.key,
        days=len(days),
        working_days=sum(1 for d in days if is_working_day(d, set(closed))),
        holidays=closed,
    )
