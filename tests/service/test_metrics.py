"""GET /metrics (Prometheus): request latency by route template, queue and live calls per municipality, outbox
lag and dead letters, card-proof failures by reason — and no personal data in any label. Also checks that every
metric and label deploy/prometheus/alerts.yml and the Grafana dashboard deploy/grafana/madoguchi-hub.json use is
exposed. All fail on the hub before /metrics existed (the dashboard's on the hub before offers, queue wait, call
setup and audit checkpoint age were measured)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from service.accounts.roles import Role
from tests.deploy._files import DEPLOY, dashboard_queries
from tests.factories import World
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver
from tests.service.test_evidence import _body, _challenge, _live_case, _prove, _read

ALERTS = DEPLOY / "prometheus" / "alerts.yml"
# Labels a sample may carry: bounded, and none of them names a person.
ALLOWED_LABELS = {
    "method",
    "route",
    "status",
    "municipality_code",
    "reason",
    "outcome",
    "side",
    "phase",
    "candidate_pair",
    "le",
}
CLERK_REPORT = {
    "started_at": "2026-11-28T10:00:00+09:00",
    "role": "offerer",
    "signaling_ms": 12.5,
    "ice_ms": 30.0,
    "dtls_ms": 41.0,
    "first_frame_ms": 70.0,
    "first_audio_ms": 90.0,
    "local_candidate": "host",
    "remote_candidate": "relay",
}


async def _scrape(client: httpx.AsyncClient) -> list[Sample]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def _value(samples: list[Sample], name: str, **labels: str) -> float | None:
    for sample in samples:
        if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items()):
            return float(sample.value)
    return None


async def _queued(driver: CaseDriver) -> dict[str, object]:
    case = await driver.create()
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    await driver.device(case["id"], "consents", consents=CONSENTS)
    return await driver.device(case["id"], "request-verification")


async def test_queue_live_calls_and_outbox_per_municipality(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    """One case in a call, one waiting (the only officer is busy): both counted under tenant A's code."""
    live = await _live_case(driver)
    waiting = await _queued(driver)
    samples = await _scrape(client)
    code = world.a.municipality_code
    assert _value(samples, "hub_live_calls", municipality_code=code) == 1
    assert _value(samples, "hub_queue_waiting_cases", municipality_code=code) == 1
    assert _value(samples, "hub_queue_waiting_cases", municipality_code=world.b.municipality_code) is None
    # The test environment runs no outbox worker: the state changes' events wait, the oldest for a while.
    undispatched = _value(samples, "hub_outbox_undispatched_events")
    assert undispatched is not None
    assert undispatched > 0
    lag = _value(samples, "hub_outbox_lag_seconds")
    assert lag is not None
    assert lag >= 0
    assert _value(samples, "hub_webhook_dead_letters") == 0
    # Route templates only: the case ids never appear, nor anything else of the cases.
    text = (await client.get("/metrics")).text
    for case in (live, waiting):
        assert str(case["id"]) not in text
        assert str(case["shinseisho_id"]) not in text
    assert _value(
        samples,
        "hub_http_request_duration_seconds_count",
        route="/api/v1/cases/{case_id}/check-in",
        method="POST",
    )


async def test_labels_are_bounded_and_name_no_person(client: httpx.AsyncClient, world: World) -> None:
    """Every label is one of a fixed, non-personal set; a path that matched no route is one label, not the path."""
    await client.get("/api/v1/no-such-thing/山田花子")
    await client.get("/api/v1/accounts/me", headers=world.h("a", Role.officer))
    samples = await _scrape(client)
    for sample in samples:
        assert set(sample.labels) <= ALLOWED_LABELS, sample
    routes = {sample.labels["route"] for sample in samples if "route" in sample.labels}
    assert "unmatched" in routes
    assert not any("山田" in route or "no-such-thing" in route for route in routes)


async def test_card_proof_failures_counted_by_reason(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, dev_pki_dir: Path
) -> None:
    """A proof signed by another card counts once under signature_invalid."""
    before = _value(await _scrape(client), "hub_card_proof_failures_total", reason="signature_invalid")
    assert before is not None
    case = await _live_case(driver)
    challenge = await _challenge(world, case["id"])
    mine = _read(dev_pki_dir, "yamada_hanako", challenge)
    other = _read(dev_pki_dir, "sato_taro", challenge)
    body = _body(challenge, mine, signature=base64.b64encode(other.signature).decode())
    assert (await _prove(world, case["id"], body)).json()["evidence"]["ok"] is False
    after = _value(await _scrape(client), "hub_card_proof_failures_total", reason="signature_invalid")
    assert after == before + 1


def _rule_references(expr: str) -> list[tuple[str, set[str]]]:
    """(metric, label names) for every `hub_*` selector of a PromQL expression, plus grouping labels."""
    grouping = {
        label.strip() for group in re.findall(r"\bby\s*\(([^)]*)\)", expr) for label in group.split(",")
    }
    references = []
    for name, matchers in re.findall(r"\b(hub_[a-z0-9_]+)\s*(\{[^}]*\})?", expr):
        labels = set(re.findall(r"([a-z_]+)\s*(?:=~|!=|!~|=)", matchers)) | grouping
        references.append((name, labels))
    return references


def _exposed_labels(samples: list[Sample]) -> dict[str, set[str]]:
    """Every exposed sample name with the label names its series carry."""
    labels_of: dict[str, set[str]] = {}
    for sample in samples:
        labels_of.setdefault(sample.name, set()).update(sample.labels)
    return labels_of


def _check_references(where: str, expr: str, labels_of: dict[str, set[str]]) -> set[str]:
    """Assert every `hub_*` metric of `expr` is exposed with the labels it filters or groups on; return them."""
    seen: set[str] = set()
    for name, labels in _rule_references(expr):
        assert name in labels_of, f"{where}: {name} is not exposed"
        assert labels - {"le"} <= labels_of[name], f"{where}: {name} has no {labels - labels_of[name]}"
        seen.add(name)
    return seen


async def _busy_hub(client: httpx.AsyncClient, world: World, driver: CaseDriver) -> list[Sample]:
    """A case accepted from an offer and in a call whose clerk reported its setup, one waiting: then scrape."""
    live = await _live_case(driver)
    report = await world.device_a.post(f"/api/v1/cases/{live['id']}/connection-metrics", json=CLERK_REPORT)
    assert report.status_code == 201, report.text
    await _queued(driver)
    return await _scrape(client)


async def test_alert_rules_use_only_exposed_metrics_and_labels(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    """Each alert's metrics exist at /metrics with the labels it filters or groups on (a rename breaks this)."""
    labels_of = _exposed_labels(await _busy_hub(client, world, driver))
    rules = [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    assert len(rules) >= 6
    seen: set[str] = set()
    for rule in rules:
        assert rule["alert"]
        assert rule["annotations"]["summary"]
        seen |= _check_references(rule["alert"], rule["expr"], labels_of)
    assert {
        "hub_queue_waiting_cases",
        "hub_live_calls",
        "hub_outbox_lag_seconds",
        "hub_webhook_dead_letters",
        "hub_audit_checkpoint_age_seconds",
    } <= seen
    assert {"hub_card_proof_failures_total", "hub_http_request_duration_seconds_bucket"} <= seen


async def test_dashboard_uses_only_exposed_metrics_and_labels(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    """Every panel's metrics exist at /metrics with the labels it filters or groups on, and the dashboard covers
    what operators watch: latency, queue and wait, offers, live calls, call setup, outbox, audit, card proofs."""
    samples = await _busy_hub(client, world, driver)
    labels_of = _exposed_labels(samples)
    seen: set[str] = set()
    for title, expr in dashboard_queries():
        seen |= _check_references(title, expr, labels_of)
    assert {
        "hub_http_request_duration_seconds_bucket",
        "hub_queue_waiting_cases",
        "hub_queue_oldest_wait_seconds",
        "hub_queue_wait_seconds_bucket",
        "hub_queue_offers_total",
        "hub_live_calls",
        "hub_call_setup_seconds_bucket",
        "hub_call_connections_total",
        "hub_outbox_lag_seconds",
        "hub_webhook_dead_letters",
        "hub_audit_checkpoint_age_seconds",
        "hub_card_proof_failures_total",
    } <= seen
    code = world.a.municipality_code
    # The case above waited, was offered, accepted, and its clerk's setup was observed phase by phase.
    assert _value(samples, "hub_queue_offers_total", municipality_code=code, outcome="offered")
    assert _value(samples, "hub_queue_offers_total", municipality_code=code, outcome="accepted")
    assert _value(samples, "hub_queue_wait_seconds_count", municipality_code=code)
    oldest = _value(samples, "hub_queue_oldest_wait_seconds", municipality_code=code)
    assert oldest is not None
    assert oldest >= 0
    for phase in ("signaling", "ice", "dtls", "first_frame", "first_audio"):
        assert _value(samples, "hub_call_setup_seconds_count", side="clerk", phase=phase)
    assert _value(samples, "hub_call_connections_total", side="clerk", candidate_pair="relay")
    # The test hub runs no checkpoint task: the audit events of these cases wait for a signature.
    age = _value(samples, "hub_audit_checkpoint_age_seconds")
    assert age is not None
    assert age >= 0
