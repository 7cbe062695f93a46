"""Unit tests of the pure parts: signatures, retry schedule, the sender over an in-process transport, J-LIS simulator."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
from pathlib import Path

import httpx
import pytest

from service.cases.lifecycle import CaseState
from service.config import Environment, Settings
from service.integrations.jlis import JlisApplication, JlisError, JlisSimulator, ProductionStatus
from service.integrations.resident import ResidentRegistrySimulator
from service.integrations.runtime import jlis_adapter_for, resident_adapter_for, worker_enabled
from service.kit import clock
from service.outbox import signing
from service.outbox.events import EventType, event_type_for
from service.outbox.secretbox import SecretBox, SecretBoxError
from service.outbox.sender import Attempt, DeliveryError, WebhookSender
from service.outbox.service import RetryPolicy

BODY = b'{"id":"evt_x","type":"case.queued"}'


def test_signature_is_hmac_over_timestamp_dot_body() -> None:
    header = signing.header_value("whsec_k", 1_700_000_000, BODY)
    expected = hmac.new(b"whsec_k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert signing.verify("whsec_k", header, BODY, now=1_700_000_100) == 1_700_000_000
    with pytest.raises(signing.SignatureInvalid, match="replay window"):
        signing.verify("whsec_k", header, BODY, now=1_700_000_301)
    with pytest.raises(signing.SignatureInvalid, match="does not match"):
        signing.verify("whsec_other", header, BODY, now=1_700_000_000)
    with pytest.raises(signing.SignatureInvalid, match="does not match"):
        signing.verify("whsec_k", header, BODY + b" ", now=1_700_000_000)
    # During a rotation a receiver may see two v1 values; one matching is enough.
    both = f"{header},v1={'0' * 64}"
    assert signing.verify("whsec_k", both, BODY, now=1_700_000_000) == 1_700_000_000


def test_retry_policy_backs_off_with_jitter_and_gives_up_after_the_horizon() -> None:
    policy = RetryPolicy(dt.timedelta(seconds=10), dt.timedelta(seconds=3600), dt.timedelta(hours=24))
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for attempts, full in ((1, 10), (2, 20), (5, 160), (20, 3600)):
        for _ in range(50):
            when = policy.next_attempt(attempts=attempts, retry_from=start, now=start)
            assert when is not None
            assert full / 2 <= (when - start).total_seconds() <= full
    late = start + dt.timedelta(hours=23, minutes=59)
    assert policy.next_attempt(attempts=30, retry_from=start, now=late) is None


async def test_sender_signs_and_reports_failures() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/down":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200 if request.url.path == "/ok" else 500)

    attempt = Attempt("whd_1", 2, "http://receiver.test/ok", "whsec_k", "evt_x", "case.queued", BODY)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        sender = WebhookSender(client)
        ok = await sender.send(attempt, timestamp=1_700_000_000)
        failed = await sender.send(
            Attempt("whd_1", 3, "http://receiver.test/err", "whsec_k", "evt_x", "case.queued", BODY),
            timestamp=1,
        )
        down = await sender.send(
            Attempt("whd_1", 4, "http://receiver.test/down", "whsec_k", "evt_x", "case.queued", BODY),
            timestamp=1,
        )
    assert ok.delivered
    assert (failed.delivered, failed.status_code, failed.error) == (False, 500, DeliveryError.http_status)
    # A network failure is reported as a category, never with the exception's text (it would map the network).
    assert (down.delivered, down.status_code, down.error) == (False, None, DeliveryError.unreachable)
    request = seen[0]
    assert request.content == BODY
    assert request.headers["Madoguchi-Event-Id"] == "evt_x"
    assert request.headers["Madoguchi-Delivery-Attempt"] == "2"
    signing.verify("whsec_k", request.headers["Madoguchi-Signature"], BODY, now=1_700_000_000)


def test_secret_box_binds_the_secret_to_its_subscription() -> None:
    box = SecretBox("master")
    sealed = box.seal("whsec_k", "whs_1")
    assert box.open(sealed, "whs_1") == "whsec_k"
    with pytest.raises(SecretBoxError):
        box.open(sealed, "whs_2")
    with pytest.raises(SecretBoxError):
        SecretBox("other master").open(sealed, "whs_1")


def test_every_event_type_has_a_state() -> None:
    mapped = {event_type_for(state) for state in CaseState} - {None}
    assert mapped == set(EventType)
    assert event_type_for(CaseState.session_live) is None


async def test_jlis_simulator_produces_after_the_delay() -> None:
    simulator = JlisSimulator(dt.timedelta(minutes=5))
    application = JlisApplication(
        "case_1", "990019", "1" * 23, "case_1/card-photo", "case_1/sealed-pin-request"
    )
    receipt = await simulator.submit(application)
    assert await simulator.submit(application) == receipt  # re-sent: same receipt
    assert await simulator.production_status(receipt) is ProductionStatus.in_production
    clock.shift_for_tests(dt.timedelta(minutes=5, seconds=1))
    try:
        assert (
            await JlisSimulator(dt.timedelta(minutes=5)).production_status(receipt)
            is ProductionStatus.produced
        )
    finally:
        clock.reset_for_tests()
    with pytest.raises(JlisError) as refused:
        await simulator.submit(JlisApplication("case_2", "990019", "123", "p", "q"))
    assert not refused.value.retriable
    # A renewal must say what happens to the current card; the card only ever goes by 本人限定受取郵便 (特例型).
    renewal = JlisApplication("case_3", "990019", "3" * 23, "p", "q", procedure="card_renewal")
    with pytest.raises(JlisError, match="current card"):
        await simulator.submit(renewal)
    assert (await simulator.submit(dataclasses.replace(renewal, old_card="returned"))).startswith("jsim-")
    with pytest.raises(JlisError, match="本人限定受取郵便"):
        await simulator.submit(dataclasses.replace(application, shinseisho_id="4" * 23, mail_type="ordinary"))


def test_adapters_and_worker_follow_the_environment(tmp_path: Path) -> None:
    dev = Settings(environment=Environment.development, data_dir=tmp_path)
    test = Settings(environment=Environment.test, data_dir=tmp_path)
    assert worker_enabled(dev)
    assert not worker_enabled(test)
    assert worker_enabled(test.model_copy(update={"outbox_worker": "on"}))
    assert isinstance(jlis_adapter_for(dev), JlisSimulator)
    assert jlis_adapter_for(test) is None
    assert isinstance(resident_adapter_for(test), ResidentRegistrySimulator)
    # (model_copy skips validation: production's other requirements are not what this test is about)
    production = test.model_copy(update={"environment": Environment.production})
    assert jlis_adapter_for(production) is None
    assert resident_adapter_for(production) is None
    with pytest.raises(RuntimeError, match="refused in production"):
        jlis_adapter_for(production.model_copy(update={"jlis_adapter": "simulator"}))
    with pytest.raises(RuntimeError, match="refused in production"):
        resident_adapter_for(production.model_copy(update={"resident_check_adapter": "simulator"}))
