"""GET /metrics (Prometheus): request latency by route template, queue and live calls per municipality, outbox
lag and dead letters, card-proof failures by reason — and no personal data in any label. Also checks that every
metric and label deploy/prometheus/alerts.yml uses is exposed. All fail on the hub before /metrics existed."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from service.accounts.roles import Role
from tests.factories import World
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver
from tests.service.test_evidence import _body, _challenge, _live_case, _prove, _read

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
# Labels a sample may carry: bounded, and none of them names a person.
ALLOWED_LABELS = {"method", "route", "status", "municipality_code", "reason", "le"}


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


async def test_alert_rules_use_only_exposed_metrics_and_labels(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    """Each alert's metrics exist at /metrics with the labels it filters or groups on (a rename breaks this)."""
    await _live_case(driver)
    await _queued(driver)
    samples = await _scrape(client)
    labels_of: dict[str, set[str]] = {}
    for sample in samples:
        labels_of.setdefault(sample.name, set()).update(sample.labels)
    rules = [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    assert len(rules) >= 6
    seen: set[str] = set()
    for rule in rules:
        assert rule["alert"]
        assert rule["annotations"]["summary"]
        for name, labels in _rule_references(rule["expr"]):
            assert name in labels_of, f"{rule['alert']}: {name} is not exposed"
            assert labels - {"le"} <= labels_of[name], (
                f"{rule['alert']}: {name} has no {labels - labels_of[name]}"
            )
            seen.add(name)
    assert {
        "hub_queue_waiting_cases",
        "hub_live_calls",
        "hub_outbox_lag_seconds",
        "hub_webhook_dead_letters",
    } <= seen
    assert {"hub_card_proof_failures_total", "hub_http_request_duration_seconds_bucket"} <= seen
