"""Pure rules of the reports: working days, percentiles and small-count suppression (docs/reports.md)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from service.reports.calendar import Month, period_of
from service.reports.figures import quantiles
from service.reports.suppression import suppressed_table, suppressed_total
from service.wire.reports import Figures

TZ = ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize(
    ("month", "working_days", "holidays"),
    [
        # 敬老の日, then 国民の休日 between two holidays, then 秋分の日.
        ("2026-09", 19, ["2026-09-21", "2026-09-22", "2026-09-23"]),
        # 文化の日 (Tue) and 勤労感謝の日 (Mon).
        ("2026-11", 19, ["2026-11-03", "2026-11-23"]),
        # The year-end closure from the 29th (Tue–Thu).
        ("2026-12", 20, ["2026-12-29", "2026-12-30", "2026-12-31"]),
        # 元日 and the closure (Thu–Fri 1–2; Sat 3 is a weekend anyway), 成人の日 on the 12th.
        ("2026-01", 19, ["2026-01-01", "2026-01-02", "2026-01-12"]),
        # 2026-05-06 is a substitute holiday (振替休日) for 憲法記念日 on Sunday the 3rd.
        ("2026-05", 18, ["2026-05-04", "2026-05-05", "2026-05-06"]),
    ],
)
def test_working_days_leave_out_weekends_national_holidays_and_the_year_end(
    month: str, working_days: int, holidays: list[str]
) -> None:
    period = period_of(Month.parse(month, TZ))
    assert period.working_days == working_days
    assert [d.isoformat() for d in period.holidays] == holidays


def test_month_bounds_are_local_midnights() -> None:
    month = Month.parse("2026-12", TZ)
    assert month.start == dt.datetime(2026, 12, 1, tzinfo=TZ)
    assert month.end == dt.datetime(2027, 1, 1, tzinfo=TZ)
    assert month.start.astimezone(dt.UTC) == dt.datetime(2026, 11, 30, 15, tzinfo=dt.UTC)
    assert (month.previous.label, month.next.label, Month.parse("2026-01", TZ).previous.label) == (
        "2026-11",
        "2027-01",
        "2025-12",
    )


def test_quantiles_are_nearest_rank() -> None:
    assert quantiles([]).count == 0
    assert quantiles([]).p50 is None
    q = quantiles([10.0, 1.0, 5.0, 7.0])
    assert (q.count, q.p50, q.p90, q.mean) == (4, 5.0, 10.0, 5.75)


def _f(received: int, approved: int = 0) -> Figures:
    return Figures(received=received, approved=approved)


def test_suppression_withholds_one_and_two_and_protects_a_lone_cell() -> None:
    table = suppressed_table(
        {"01": _f(2, 10), "13": _f(40, 9), "27": _f(5, 0), "47": _f(0, 1)},
        groups={"01": "", "13": "", "27": "", "47": ""},
    )
    # received: 01 is 2 (primary) and alone, so the next smallest non-zero (27's 5) is withheld too; 0 is shown.
    assert table["01"].values["received"] is None
    assert table["27"].values["received"] is None
    assert table["13"].values["received"] == 40
    assert table["47"].values["received"] == 0
    # approved: 47's 1 is alone; the next smallest non-zero is 13's 9.
    assert table["47"].values["approved"] is None
    assert table["13"].values["approved"] is None
    assert table["01"].values["approved"] == 10
    assert table["01"].suppressed == ["received"]
    assert table["13"].suppressed == ["approved"]


def test_two_withheld_cells_need_no_secondary_and_groups_are_separate() -> None:
    table = suppressed_table(
        {"a1": _f(1), "a2": _f(2), "a3": _f(30), "b1": _f(2), "b2": _f(4)},
        groups={"a1": "a", "a2": "a", "a3": "a", "b1": "b", "b2": "b"},
    )
    assert [table[k].values["received"] for k in ("a1", "a2", "a3", "b1", "b2")] == [
        None,
        None,
        30,
        None,
        None,
    ]


def test_the_national_total_is_withheld_only_when_itself_small() -> None:
    assert suppressed_total(_f(2, 3)).values["received"] is None
    assert suppressed_total(_f(2, 3)).values["approved"] == 3
    assert suppressed_total(_f(0)).suppressed == []
