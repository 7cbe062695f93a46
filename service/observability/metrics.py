"""The hub's Prometheus metrics.

Labels are bounded and carry no personal data: a route *template* (`/api/v1/cases/{case_id}`, never the id), an
HTTP method and status, a municipality code (団体コード, public), a card-proof reason code. Gauges that describe
the shared database (queue, live calls, outbox) are read at scrape time, so every replica reports the same
value: alert on max(), not sum().
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from service.cardproof.verify import Reason

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
# Every reason exists from the start at 0, so a rate() sees the first failure and an alert rule never names a
# series that does not exist yet.
for _reason in Reason:
    CARD_PROOF_FAILURES.labels(reason=_reason.value)


def count_card_proof_failures(reasons: tuple[Reason, ...]) -> None:
    """Count each failed check of one card proof."""
    for reason in reasons:
        CARD_PROOF_FAILURES.labels(reason=reason.value).inc()


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
