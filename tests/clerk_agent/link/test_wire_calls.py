"""The agent's hub calls (service/wire/calls.py, clerk_agent/link/client.py) against the hub's own schemas and routes.

Every body the client builds must pass the hub's request model, every answer model must name only fields the hub
answers with, and every path must be a route the hub serves. The durable queue replays rows an older agent stored
without a call, and the link's one retry loop counts failures for JSON and uploads alike.
"""

from __future__ import annotations

import re
import socket
import sqlite3
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel

from clerk_agent.flows.writes import HubWrites
from clerk_agent.link.client import HubClient, HubWrite, case_path, classify, signaling_ticket_path
from clerk_agent.link.hub import HubLink, HubUnavailable
from clerk_agent.link.store import LocalStore
from service.accounts.devices_router import DeviceSelf as HubDeviceSelf
from service.accounts.router import devices_router
from service.cases.consents import ConsentsGiven
from service.cases.router import router as cases_router
from service.cases.schemas import ActionRequest, CaseCreate, CaseRead
from service.evidence import stills
from service.evidence.router import PinRequestSubmit
from service.evidence.router import router as evidence_router
from service.evidence.schemas import CardChallengeIssued, CardProofSubmit, EvidenceRead
from service.evidence.schemas import CardProofOutcome as HubCardProofOutcome
from service.queue.router import router as queue_router
from service.queue.schemas import QueuePosition as HubQueuePosition
from service.signaling.router import router as signaling_router
from service.signaling.schemas import SignalingTicketRead
from service.tenancy.router import SealingKeyOut
from service.tenancy.router import router as tenancy_router
from service.tenancy.schemas import DesignationRead
from service.wire import calls
from service.wire.cases import Action, Procedure
from service.wire.evidence import StillKind

CASE = "case_0123456789"
# The actions the counter flow takes without a body (clerk_agent/flows/counter.py).
COUNTER_ACTIONS = (
    Action.check_in,
    Action.request_verification,
    Action.capture_evidence,
    Action.requeue,
    Action.close,
    Action.complete,
)
ANSWERS = {
    "applicant_present": True,
    "resident_of_municipality": True,
    "proxy_applicant": False,
    "minor_or_adult_ward": False,
}
SEALED = {
    "v": "madoguchi/pin-seal/v1",
    "key_id": "k" * 16,
    "epk": "e" * 43,
    "nonce": "n" * 16,
    "ct": "c" * 60,
}


def _writes() -> list[tuple[HubWrite, type[BaseModel]]]:
    """Every write the counter queues, with the hub's model of its body."""
    return [
        (
            HubClient.create_case(calls.CaseOpen(municipality_code="131016", procedure=Procedure.pin_reset)),
            CaseCreate,
        ),
        *((HubClient.act(CASE, action), ActionRequest) for action in COUNTER_ACTIONS),
        (HubClient.act(CASE, Action.withdraw, reason="applicant_request"), ActionRequest),
        (HubClient.precheck(CASE, ANSWERS), ActionRequest),
        (HubClient.record_consents(CASE, {"recording": "2026-04"}), ConsentsGiven),
        (HubClient.pin_request(CASE, calls.PinRequestBody(face_auth=True)), PinRequestSubmit),
        (
            HubClient.pin_request(CASE, calls.PinRequestBody.model_validate({"sealed": SEALED})),
            PinRequestSubmit,
        ),
    ]


def test_every_body_the_agent_sends_passes_the_hubs_model() -> None:
    for write, model in _writes():
        model.model_validate(write.body)
    proof = calls.CardProof(challenge_id="ch_1", certificate="AAAA", signature="AAAA", atr="3B8F")
    CardProofSubmit.model_validate(proof.model_dump())
    still = HubClient.upload_still(CASE, StillKind.document_tilt, b"\xff\xd8")
    assert still.blob == ("image/jpeg", b"\xff\xd8")
    assert (
        vars(stills)["StillKind"] is StillKind
    )  # the hub and the agent take the kinds from service/wire/evidence.py


@pytest.mark.parametrize(
    ("wire", "hub"),
    [
        (calls.CaseReply, CaseRead),
        (calls.StillStored, EvidenceRead),
        (calls.CardChallenge, CardChallengeIssued),
        (calls.CardProofOutcome, HubCardProofOutcome),
        (calls.EvidenceBrief, EvidenceRead),
        (calls.QueuePosition, HubQueuePosition),
        (calls.SealingKey, SealingKeyOut),
        (calls.SignalingTicket, SignalingTicketRead),
        (calls.DeviceSelf, HubDeviceSelf),
        (calls.DesignationBrief, DesignationRead),
    ],
)
def test_every_answer_the_agent_reads_names_only_what_the_hub_answers(
    wire: type[BaseModel], hub: type[BaseModel]
) -> None:
    assert set(wire.model_fields) <= set(hub.model_fields), set(wire.model_fields) - set(hub.model_fields)


def _routes() -> list[tuple[str, re.Pattern[str]]]:
    found = []
    for router in (
        cases_router,
        evidence_router,
        queue_router,
        signaling_router,
        tenancy_router,
        devices_router,
    ):
        for route in router.routes:
            path = getattr(route, "path", "")
            for method in getattr(route, "methods", set()):
                found.append((method, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")))
    return found


def test_every_path_the_client_uses_is_a_route_the_hub_serves() -> None:
    routes = _routes()
    used = [(w.method, w.path) for w, _ in _writes()]
    used += [
        ("POST", HubClient.upload_still(CASE, StillKind.document_front, b"").path),
        ("GET", case_path(CASE)),
        ("GET", case_path(CASE, "queue-position")),
        ("POST", case_path(CASE, "card-challenges")),
        ("POST", case_path(CASE, "card-proofs")),
        ("POST", case_path(CASE, "connection-metrics")),
        ("POST", signaling_ticket_path(CASE)),
        ("GET", "/api/v1/municipalities/131016/pin-sealing-key"),
        ("GET", "/api/v1/devices/me"),
    ]
    for method, path in used:
        assert any(m == method and pattern.match(path) for m, pattern in routes), f"{method} {path}"


def test_a_stored_path_reads_back_as_the_call_and_action_it_carries() -> None:
    for write, _ in _writes():
        assert classify(write.method, write.path) == (write.call, write.action)
    still = HubClient.upload_still(CASE, StillKind.application_photo, b"")
    assert classify(still.method, still.path) == (calls.Call.still, None)


async def test_writes_stored_by_an_older_agent_replay_with_their_call_derived(tmp_path: Path) -> None:
    path = tmp_path / "agent.sqlite3"
    old = sqlite3.connect(path)
    # The pending-write table as agents before the contract created it: no call, no action.
    old.executescript(
        """
        CREATE TABLE pending_write (id INTEGER PRIMARY KEY AUTOINCREMENT, local_case_id TEXT NOT NULL,
            method TEXT NOT NULL, path TEXT NOT NULL, body TEXT, idempotency_key TEXT, created_at REAL NOT NULL);
        INSERT INTO pending_write (local_case_id, method, path, body, idempotency_key, created_at) VALUES
            ('l1', 'POST', '/api/v1/cases', '{"procedure": "pin_reset"}', 'k1', 1),
            ('l1', 'POST', '/api/v1/cases/c1/check-in', '{}', 'k2', 2),
            ('l1', 'POST', '/api/v1/cases/c1/request-verification', '{}', 'k3', 3),
            ('l1', 'POST', '/api/v1/cases/c1/pin-request', '{"face_auth": true}', 'k4', 4),
            ('l1', 'POST', '/api/v1/cases/c1/stills', '{"kind": "document_front"}', 'k5', 5);
        """
    )
    old.close()
    store = LocalStore(path)
    try:
        # Never sent here: the queue is only filled and read.
        writes = HubWrites(HubClient(HubLink(httpx.AsyncClient())), store)
        await writes.replay()
        replayed = [writes._queue.get_nowait() for _ in range(writes._queue.qsize())]
        assert [(w.call, w.action) for w in replayed] == [
            (calls.Call.create_case, None),
            (calls.Call.act, Action.check_in),
            (calls.Call.act, Action.request_verification),
            (calls.Call.pin_request, Action.seal_pin_request),
            (calls.Call.still, None),
        ]
        # A write this version stores records its call and action itself.
        await writes.add("l2", HubClient.act("c2", Action.withdraw, reason="other"), "k6")
        newest = (await store.pending())[-1]
        assert (newest.call, newest.action) == ("act", "withdraw")
    finally:
        store.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_json_and_uploads_share_one_retry_loop_with_a_no_retry_option() -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{_closed_port()}") as http:
        link = HubLink(http)
        with pytest.raises(HubUnavailable):
            await link.request("GET", case_path(CASE), retry=False)
        assert (link.status.online, link.status.failures) == (False, 1)
        with pytest.raises(HubUnavailable):
            await link.upload(case_path(CASE, "stills"), b"x", "image/jpeg", {"kind": "x"}, retry=False)
        assert link.status.failures == 2
        assert link.status.last_error == "ConnectError"
