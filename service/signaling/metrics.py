"""Rules of connection metrics (接続計測): each side of a call reports how it connected; the hub keeps it per case.

The agent (clerk device) posts its figures after connecting, the officer's console may post its own. A report
holds timings and candidate types only — no address, nothing about the applicant — and each one is an audit
event. The case's officer and the municipality's supervisors read them; supervisors also get aggregates.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal, PrincipalKind, Role
from service.audit import service as audit
from service.cases import service as case_service
from service.errors import PermissionDenied
from service.evidence import service as evidence_service
from service.kit import clock
from service.kit.ids import random_id
from service.observability import metrics as hub_metrics
from service.signaling import repository
from service.signaling.exceptions import MetricsLimitReached
from service.signaling.models import ConnectionMetric
from service.signaling.schemas import ConnectionMetricsSummary, MilestoneSummary
from service.signaling.service import participant_role
from service.wire.rtc_metrics import ConnectionMetrics

# A call with a few reconnections reports a handful of times; far more than this is a flood, not calls.
MAX_REPORTS_PER_CASE = 60
MILESTONES = ("signaling", "ice", "dtls", "first_frame", "first_audio")


async def record(
    session: AsyncSession, *, principal: Principal, case_id: str, metrics: ConnectionMetrics
) -> ConnectionMetric:
    """Store one side's report for the case; only its clerk device and its assigned officer may report."""
    side = await participant_role(session, principal=principal, case_id=case_id)
    case = await case_service.get_for(session, principal=principal, case_id=case_id)
    if await repository.count_for_case(session, case.id) >= MAX_REPORTS_PER_CASE:
        raise MetricsLimitReached(f"at most {MAX_REPORTS_PER_CASE} reports per case")
    row = ConnectionMetric(
        id=random_id("cmet"),
        case_id=case.id,
        municipality_code=case.municipality_code,
        side=side,
        reporter_id=principal.id,
        role=metrics.role,
        started_at=metrics.started_at,
        signaling_ms=metrics.signaling_ms,
        ice_ms=metrics.ice_ms,
        dtls_ms=metrics.dtls_ms,
        first_frame_ms=metrics.first_frame_ms,
        first_audio_ms=metrics.first_audio_ms,
        local_candidate=metrics.local_candidate,
        remote_candidate=metrics.remote_candidate,
        candidate_pair=metrics.candidate_pair,
        created_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        actor=principal,
        action="live.connection_metrics_recorded",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="connection_metric",
        object_id=row.id,
        # The pair type is a code (host/srflx/prflx/relay), never an address.
        reason_code=row.candidate_pair,
    )
    hub_metrics.observe_call_setup(
        session,
        report_id=row.id,
        side=side,
        milestones_ms={name: getattr(row, f"{name}_ms") for name in MILESTONES},
        candidate_pair=row.candidate_pair,
    )
    return row


async def for_case(
    session: AsyncSession, *, principal: Principal, case_id: str
) -> Sequence[ConnectionMetric]:
    """The case's reports for its assigned officer or a supervisor of its municipality."""
    case = await case_service.get_for(session, principal=principal, case_id=case_id)
    evidence_service.require_evidence_reader(principal, case)
    return await repository.for_case(session, case.id)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _milestone(values: list[float]) -> MilestoneSummary:
    return MilestoneSummary(
        count=len(values), median_ms=percentile(values, 0.5), p95_ms=percentile(values, 0.95)
    )


async def summary(
    session: AsyncSession, *, principal: Principal, days: int, side: str | None
) -> ConnectionMetricsSummary:
    """Aggregates over the caller's municipality (officers and supervisors) for the last `days` days."""
    if principal.kind is not PrincipalKind.account or principal.role not in (Role.officer, Role.supervisor):
        raise PermissionDenied("connection metrics are for the municipality's officers and supervisors")
    if principal.municipality_code is None:
        raise PermissionDenied("no municipality")
    since = clock.now() - dt.timedelta(days=days)
    rows = await repository.for_municipality(session, principal.municipality_code, since=since, side=side)
    series: dict[str, list[float]] = {name: [] for name in MILESTONES}
    for row in rows:
        for name in MILESTONES:
            value = getattr(row, f"{name}_ms")
            if value is not None:
                series[name].append(float(value))
    pairs = Counter(row.candidate_pair or "unknown" for row in rows)
    return ConnectionMetricsSummary(
        since=since,
        reports=len(rows),
        connected=sum(1 for row in rows if row.dtls_ms is not None),
        signaling=_milestone(series["signaling"]),
        ice=_milestone(series["ice"]),
        dtls=_milestone(series["dtls"]),
        first_frame=_milestone(series["first_frame"]),
        first_audio=_milestone(series["first_audio"]),
        candidate_pairs=dict(pairs),
    )
