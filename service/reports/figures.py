"""Counting: state entries into Figures, and durations between entries into Quantiles (pure, no I/O).

docs/reports.md §Figures says which state entry each figure counts; this module is that table as code.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from service.wire.cases import Action, CaseState
from service.wire.reports import Figures, Quantiles

# The figure each state entry adds to (the `complete` action's `closed` is handled apart: only it is "completed").
STATE_FIGURE: Final[dict[str, str]] = {
    CaseState.checked_in: "received",
    CaseState.withdrawn: "withdrawn",
    CaseState.referred_to_counter: "referred",
    CaseState.rejected: "rejected",
    CaseState.approved: "approved",
    CaseState.aborted: "aborted",
    CaseState.submitted_to_jlis: "submitted_to_jlis",
    CaseState.card_produced: "card_produced",
    CaseState.card_received_by_municipality: "card_received",
    CaseState.pre_issue_setup_done: "pre_issue_setup_done",
    CaseState.mailed: "mailed",
    CaseState.delivered: "delivered",
    CaseState.returned_undelivered: "returned",
    CaseState.awaiting_counter_pickup: "awaiting_pickup",
    CaseState.cancelled_address_change: "cancelled_address_change",
}
# Figures that are also split by the entry's reason code.
BY_REASON: Final = frozenset({"withdrawn", "referred", "rejected", "aborted", "returned"})
# Abort reasons that mean the link failed (a dropped call), not the applicant or the officer.
DROP_REASONS: Final = frozenset({"network", "picture_quality", "audio_quality"})
DECISION_STATES: Final = frozenset({CaseState.approved, CaseState.rejected, CaseState.referred_to_counter})
# Every state a report reads: what it counts, plus the starts of the timings.
READ_STATES: Final = frozenset(STATE_FIGURE) | {
    CaseState.closed,
    CaseState.queued_for_officer,
    CaseState.session_live,
}


@dataclass(frozen=True)
class Entry:
    """One case-state entry as a report reads it: ids and codes only."""

    case_id: str
    entered_at: dt.datetime
    municipality_code: str
    post_office_id: str
    procedure: str
    state: str
    action: str
    reason_code: str | None
    channel: str = "counter"  # counter | booth (docs/booths.md §Reports)


def figure_of(entry: Entry) -> str | None:
    """The figure an entry counts in, if any."""
    if entry.state == CaseState.closed:
        return "completed" if entry.action == Action.complete else None
    return STATE_FIGURE.get(entry.state)


@dataclass
class Tally:
    """A mutable Figures being counted."""

    counts: Counter[str] = field(default_factory=Counter)
    reasons: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, entry: Entry) -> None:
        name = figure_of(entry)
        if name is not None:
            self.count(name, entry.reason_code)

    def count(self, name: str, reason_code: str | None) -> None:
        """Count one entry already known to add to figure `name` (callers that tally several slices at once)."""
        self.counts[name] += 1
        if name in BY_REASON:
            self.reasons.setdefault(name, Counter())[reason_code or "other"] += 1

    def figures(self) -> Figures:
        values: dict[str, object] = dict(self.counts)
        for name in BY_REASON:
            values[f"{name}_by_reason"] = dict(sorted(self.reasons.get(name, Counter()).items()))
        return Figures.model_validate(values)


def quantiles(values: list[float]) -> Quantiles:
    """Median and 90th percentile by the nearest-rank method (a value that occurred), and the mean."""
    if not values:
        return Quantiles()
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return Quantiles(
        count=len(ordered),
        p50=round(rank(0.5), 3),
        p90=round(rank(0.9), 3),
        mean=round(sum(ordered) / len(ordered), 3),
    )


@dataclass(frozen=True)
class Durations:
    queue_waits: list[float]
    handling: list[float]
    calls: int
    drops: Counter[str]


def durations(entries: list[Entry], start: dt.datetime, end: dt.datetime) -> Durations:
    """Waits and handling times that END inside [start, end); `entries` may begin before `start`.

    A wait is a queued_for_officer entry to the case's next session_live entry; handling is a session_live entry
    to the case's next decision. Entries must be in time order.
    """
    queued: dict[str, dt.datetime] = {}
    live: dict[str, dt.datetime] = {}
    waits: list[float] = []
    handling: list[float] = []
    calls = 0
    drops: Counter[str] = Counter()
    for entry in entries:
        inside = start <= entry.entered_at < end
        if entry.state == CaseState.queued_for_officer:
            queued[entry.case_id] = entry.entered_at
        elif entry.state == CaseState.session_live:
            began = queued.pop(entry.case_id, None)
            if inside:
                calls += 1
                if began is not None:
                    waits.append((entry.entered_at - began).total_seconds())
            live[entry.case_id] = entry.entered_at
        elif entry.state in DECISION_STATES:
            began = live.pop(entry.case_id, None)
            if inside and began is not None:
                handling.append((entry.entered_at - began).total_seconds())
        elif entry.state == CaseState.aborted:
            live.pop(entry.case_id, None)
            if inside and entry.reason_code in DROP_REASONS:
                drops[entry.reason_code] += 1
    return Durations(waits, handling, calls, drops)
