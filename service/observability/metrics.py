"""The hub's Prometheus metrics.

Labels are bounded and carry no personal data: a route *template* (`/api/v1/cases/{case_id}`, never the id), an
HTTP method and status, a municipality code (団体コード, public), a card-proof reason code. Gauges that describe
the shared database (queue, live calls, outbox) are read at scrape time, so every replica reports the same
value: alert on max(), not sum().
"""

from __future__ import annotations

import datetime as dt
import gc

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy.ext.asyncio import AsyncSession

from service.cardproof.verify import Reason
from service.kit.aftercommit import call_after_commit

# One registry for the process: apps created by tests share it, as replicas' processes would not.
REGISTRY = CollectorRegistry(auto_describe=True)

REQUEST_DURATION = Histogram(
    "hub_http_request_duration_seconds",
    "HTTP request latency by route template, method and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
QUEUE_WAITING = Gauge(
    "hub_queue_waiting_cases",
    "Cases waiting for an officer (queued_for_officer), by municipality code.",
    ["municipality_code"],
    registry=REGISTRY,
)
LIVE_CALLS = Gauge(
    "hub_live_calls",
    "Cases in a live call with an officer (session_live), by municipality code.",
    ["municipality_code"],
    registry=REGISTRY,
)
QUEUE_OLDEST_WAIT = Gauge(
    "hub_queue_oldest_wait_seconds",
    "How long the longest-waiting queued case has waited for an officer, by municipality code.",
    ["municipality_code"],
    registry=REGISTRY,
)
QUEUE_WAIT = Histogram(
    "hub_queue_wait_seconds",
    "Time a case waited in the queue before an officer accepted it, by municipality code.",
    ["municipality_code"],
    registry=REGISTRY,
    buckets=(10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0),
)
OFFERS = Counter(
    "hub_queue_offers",
    "Case offers to officers: made (offered) and how each ended, by municipality code.",
    ["municipality_code", "outcome"],
    registry=REGISTRY,
)
CALL_SETUP = Histogram(
    "hub_call_setup_seconds",
    "Call setup milestones reported by each side (signaling, ice, dtls, first_frame, first_audio), from the "
    "start of its connection attempt.",
    ["side", "phase"],
    registry=REGISTRY,
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0),
)
CALL_CONNECTIONS = Counter(
    "hub_call_connections",
    "Connection reports by side and selected candidate pair type (host, srflx, prflx, relay; unknown).",
    ["side", "candidate_pair"],
    registry=REGISTRY,
)
OUTBOX_UNDISPATCHED = Gauge(
    "hub_outbox_undispatched_events", "Outbox events not yet fanned out.", registry=REGISTRY
)
OUTBOX_LAG = Gauge(
    "hub_outbox_lag_seconds",
    "Age of the oldest outbox event not yet fanned out (0 when none waits).",
    registry=REGISTRY,
)
WEBHOOK_PENDING = Gauge(
    "hub_webhook_pending_deliveries", "Webhook deliveries waiting to be sent or retried.", registry=REGISTRY
)
WEBHOOK_DEAD = Gauge(
    "hub_webhook_dead_letters",
    "Webhook deliveries given up on (dead letters) awaiting redelivery.",
    registry=REGISTRY,
)
CARD_PROOF_FAILURES = Counter(
    "hub_card_proof_failures",
    "Failed card-proof checks by reason code.",
    ["reason"],
    registry=REGISTRY,
)
AUDIT_CHECKPOINT_AGE = Gauge(
    "hub_audit_checkpoint_age_seconds",
    "Age of the oldest audit event no signed checkpoint covers yet (0 when every chain's head is signed).",
    registry=REGISTRY,
)
GC_FROZEN_OBJECTS = Gauge(
    "hub_gc_frozen_objects",
    "Objects alive at startup that later full collections no longer walk (service/cli.py freeze_startup_heap).",
    registry=REGISTRY,
)
GC_FROZEN_OBJECTS.set_function(gc.get_freeze_count)
# Every reason exists from the start at 0, so a rate() sees the first failure and an alert rule never names a
# series that does not exist yet.
for _reason in Reason:
    CARD_PROOF_FAILURES.labels(reason=_reason.value)


def count_card_proof_failures(reasons: tuple[Reason, ...]) -> None:
    """Count each failed check of one card proof."""
    for reason in reasons:
        CARD_PROOF_FAILURES.labels(reason=reason.value).inc()


def count_offer(session: AsyncSession, *, offer_id: str, municipality_code: str, outcome: str) -> None:
    """Count an offer made (`offered`) or closed (its outcome) once its transaction commits."""
    call_after_commit(
        session,
        f"metrics.offer:{offer_id}:{outcome}",
        lambda: OFFERS.labels(municipality_code=municipality_code, outcome=outcome).inc(),
    )


def observe_queue_wait(
    session: AsyncSession, *, offer_id: str, municipality_code: str, waited: dt.timedelta
) -> None:
    """Observe how long an accepted case waited in the queue, once the acceptance commits."""
    seconds = max(0.0, waited.total_seconds())
    call_after_commit(
        session,
        f"metrics.queue_wait:{offer_id}",
        lambda: QUEUE_WAIT.labels(municipality_code=municipality_code).observe(seconds),
    )


def observe_call_setup(
    session: AsyncSession,
    *,
    report_id: str,
    side: str,
    milestones_ms: dict[str, float | None],
    candidate_pair: str | None,
) -> None:
    """Observe one side's connection report (milestones in milliseconds; None for one not reached)."""

    def observe() -> None:
        for phase, value in milestones_ms.items():
            if value is not None:
                CALL_SETUP.labels(side=side, phase=phase).observe(value / 1000)
        CALL_CONNECTIONS.labels(side=side, candidate_pair=candidate_pair or "unknown").inc()

    call_after_commit(session, f"metrics.call_setup:{report_id}", observe)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
