"""GET /metrics: the Prometheus exposition. No personal data; keep it off the public ingress all the same."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Response

from service.cases.lifecycle import CaseState
from service.db import DBSession
from service.kit import clock
from service.observability import metrics, repository

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(session: DBSession) -> Response:
    """Read the database gauges, then render every metric."""
    waiting = await repository.cases_by_municipality(session, CaseState.queued_for_officer)
    queued_since = await repository.oldest_by_municipality(session, CaseState.queued_for_officer)
    live = await repository.cases_by_municipality(session, CaseState.session_live)
    undispatched, oldest = await repository.undispatched_outbox(session)
    deliveries = await repository.deliveries_by_status(session)
    unsigned_since = await repository.oldest_unsigned_audit_event(session)
    now = clock.now()
    # No await from here on: a concurrent scrape never sees a cleared gauge.
    metrics.QUEUE_WAITING.clear()
    for code, count in waiting.items():
        metrics.QUEUE_WAITING.labels(municipality_code=code).set(count)
    metrics.QUEUE_OLDEST_WAIT.clear()
    for code, entered in queued_since.items():
        metrics.QUEUE_OLDEST_WAIT.labels(municipality_code=code).set(_age(now, entered))
    metrics.LIVE_CALLS.clear()
    for code, count in live.items():
        metrics.LIVE_CALLS.labels(municipality_code=code).set(count)
    metrics.OUTBOX_UNDISPATCHED.set(undispatched)
    metrics.OUTBOX_LAG.set(_age(now, oldest))
    metrics.AUDIT_CHECKPOINT_AGE.set(_age(now, unsigned_since))
    metrics.WEBHOOK_PENDING.set(deliveries.get("pending", 0))
    metrics.WEBHOOK_DEAD.set(deliveries.get("dead", 0))
    body, content_type = metrics.render()
    return Response(content=body, media_type=content_type)


def _age(now: dt.datetime, since: dt.datetime | None) -> float:
    """Seconds since `since` (0 when nothing is waiting)."""
    return 0.0 if since is None else max(0.0, (now - since).total_seconds())
