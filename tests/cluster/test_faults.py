"""Faults against the production-shaped cluster (docs/operations.md §Cluster): the database restarted under
traffic, a replica killed while the outbox delivers, and a rolling restart of every replica while cases flow.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.auth import DeviceAuth
from clerk_agent.link.hub import hub_http_client
from clerk_agent.link.signaling import HubSignaling
from deploy.cluster import Cluster, Replica
from service.accounts.roles import Role
from service.config import Settings
from service.signaling.service import SIGNALING_PATH
from service.wire.signaling import OfferMessage
from tests._procs import free_port
from tests._uvicorn import served
from tests.cluster._traffic import (
    CounterDevice,
    Seen,
    acknowledged_states_kept,
    pid_owning_port,
    run_counters,
    until,
)
from tests.factories import Tenant, login, make_tenant
from tests.service.integrations.conftest import Receiver, subscribe, webhook_key
from tests.service.signaling._hub import RawSocket, assign_officer, ticket

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def device_client(cluster: Cluster, tenant: Tenant, base_url: str | None = None) -> httpx.AsyncClient:
    """The tenant's counter device, signed, through the load balancer unless `base_url` names a replica."""
    if base_url is not None:
        return httpx.AsyncClient(base_url=base_url, auth=DeviceAuth(tenant.device_id, tenant.device_key))
    return hub_http_client(
        cluster.url, DeviceAuth(tenant.device_id, tenant.device_key), ca_file=cluster.ca_file
    )


def direct_ws(replica: Replica, issued: dict[str, str]) -> str:
    """A ticket's socket URL at one replica, bypassing the load balancer (to pin a participant to it)."""
    return f"{replica.url.replace('http://', 'ws://', 1)}{SIGNALING_PATH}?ticket={issued['ticket']}"


async def cross_replica_relay(
    cluster: Cluster, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession], within_s: float
) -> None:
    """A clerk on the first replica and an officer on the second: an offer crosses the bus (LISTEN/NOTIFY)."""
    async with device_client(cluster, tenant) as device, cluster.client() as officer_http:
        created = await device.post(
            "/api/v1/cases", json={"municipality_code": tenant.municipality_code, "procedure": "pin_reset"}
        )
        assert created.status_code == 201, created.text
        case_id = created.json()["id"]
        await assign_officer(sessionmaker, case_id, tenant.usernames[Role.officer])
        officer_headers = await login(officer_http, tenant.usernames[Role.officer])
        clerk = await RawSocket.open(direct_ws(cluster.nodes[0], await ticket(device, case_id)))
        officer = await RawSocket.open(
            direct_ws(cluster.nodes[1], await ticket(officer_http, case_id, officer_headers))
        )
        try:
            await clerk.join(case_id, "clerk")
            await officer.join(case_id, "officer")
            # NOTIFYs sent before a replica listens again are not replayed: send until one arrives.
            deadline = time.monotonic() + within_s
            while True:
                await clerk.send(OfferMessage(seq=0, room=case_id, sdp="v=0 cluster"))
                try:
                    received = await officer.recv(timeout_s=1.0)
                except TimeoutError:
                    assert time.monotonic() < deadline, "no frame crossed the replicas"
                    continue
                assert isinstance(received, OfferMessage)
                assert received.sdp == "v=0 cluster"
                return
        finally:
            await clerk.close()
            await officer.close()


async def test_postgres_restart_mid_traffic_is_503_with_retry_after_then_recovers(
    healthy: Cluster, sessionmaker: async_sessionmaker[AsyncSession], seed_settings: Settings
) -> None:
    cluster = healthy
    tenant = await make_tenant(sessionmaker, seed_settings, prefix="99011", name="子市", office_code="99111")
    seen = Seen()
    counters = [CounterDevice(cluster.url, cluster.ca_file, tenant, seen) for _ in range(3)]
    stop = asyncio.Event()
    traffic = asyncio.create_task(run_counters(counters, stop, minimum=2))
    try:
        await until(lambda: len(seen.acknowledged) >= 3 or traffic.done(), 60, "traffic to flow")
        await asyncio.to_thread(cluster.stop_postgres, "fast")
        some_case = next(iter(seen.acknowledged))
        # Meanwhile the hub itself (a replica, directly) and the load balancer both answer 503 + Retry-After.
        async with device_client(cluster, tenant, cluster.nodes[0].url) as direct:
            answer = await direct.get(f"/api/v1/cases/{some_case}")
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "database_unavailable"
        assert answer.headers["retry-after"].isdigit()
        async with device_client(cluster, tenant) as through_lb:
            answer = await through_lb.get(f"/api/v1/cases/{some_case}")
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"].isdigit()
        await asyncio.to_thread(cluster.start_postgres)
        stop.set()
        async with asyncio.timeout(180):
            await traffic
    finally:
        stop.set()
        if not traffic.done():
            traffic.cancel()
        for counter in counters:
            await counter.aclose()
    assert seen.failures == []
    assert 500 not in seen.statuses
    assert seen.retry_after_missing == 0
    await acknowledged_states_kept(sessionmaker, seen.acknowledged)
    assert set(seen.acknowledged.values()) == {"withdrawn"}  # every case walked to its end after the outage
    # The signaling bus of both replicas listens again: a frame crosses from one replica to the other.
    await cross_replica_relay(cluster, tenant, sessionmaker, within_s=30)


@dataclass
class PortRecordingReceiver(Receiver):
    """The webhook receiver of the integration tests, also noting the sender's TCP port of each request."""

    ports: list[int] = field(default_factory=list)

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] == "http" and scope.get("client"):
            self.ports.append(int(scope["client"][1]))
        await super().__call__(scope, receive, send)


async def _cases_then_kill_the_sender(
    cluster: Cluster, tenant: Tenant, receiver: PortRecordingReceiver
) -> list[str]:
    """Six counters each walk a case (two events each); then SIGKILL the replica whose delivery is on the wire."""
    seen = Seen()
    counters = [CounterDevice(cluster.url, cluster.ca_file, tenant, seen) for _ in range(6)]
    try:
        cases = await asyncio.gather(*(counter.case() for counter in counters))
    finally:
        for counter in counters:
            await counter.aclose()
    assert seen.failures == []
    running = {r.proc.pid: r for r in cluster.nodes if r.proc is not None}

    def sender() -> int | None:
        # The newest stalled request first: its connection is surely still open.
        for port in reversed(receiver.ports):
            if (pid := pid_owning_port(port, list(running))) is not None:
                return pid
        return None

    await until(lambda: sender() is not None, 30, "a delivery on the wire from a replica")
    pid = sender()
    assert pid is not None
    await asyncio.to_thread(cluster.kill_replica, running[pid].name)
    return [case_id for case_id in cases if case_id is not None]


async def test_replica_killed_while_the_outbox_delivers_loses_no_event(
    healthy: Cluster, sessionmaker: async_sessionmaker[AsyncSession], seed_settings: Settings
) -> None:
    cluster = healthy
    tenant = await make_tenant(sessionmaker, seed_settings, prefix="99012", name="丑町", office_code="99112")
    receiver = PortRecordingReceiver()
    port = free_port()
    config = uvicorn.Config(receiver, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    async with served(config, name="webhook-receiver"):
        receiver.url = f"http://127.0.0.1:{port}/hooks"
        hooks = await webhook_key(sessionmaker, tenant)
        async with cluster.client() as api:
            subscription = await subscribe(api, hooks, receiver.url, ["case.queued", "case.closed"])
        receiver.secret = subscription["secret"]
        # Deliveries stall at the receiver, so one is on the wire when its sender dies.
        stall = receiver.stall = asyncio.Event()
        try:
            cases = await _cases_then_kill_the_sender(cluster, tenant, receiver)
        finally:
            stall.set()  # the receiver's server cannot stop while a request waits on it
            receiver.stall = None
        assert len(cases) == 6
        expected = {(case_id, kind) for case_id in cases for kind in ("case.queued", "case.closed")}

        def delivered() -> set[tuple[str, str]]:
            return {(e["data"]["case_id"], e["type"]) for e in receiver.accepted}

        await until(lambda: delivered() >= expected, 90, "every event delivered")
    assert delivered() == expected
    # In order per case: every 200 the receiver gave, per case, is the queued event (perhaps again), then closed.
    per_case: dict[str, list[str]] = {}
    for request in receiver.requests:
        if request.status == 200:
            event = json.loads(request.body)
            kinds = per_case.setdefault(event["data"]["case_id"], [])
            if not kinds or kinds[-1] != event["type"]:
                kinds.append(event["type"])
    assert per_case == {case_id: ["case.queued", "case.closed"] for case_id in cases}


async def _readiness_during(cluster: Cluster, restart: asyncio.Task[None]) -> dict[str, set[str]]:
    """Poll every replica's own /readyz until `restart` ends; per replica, the 503 codes seen (`draining`)."""
    seen: dict[str, set[str]] = {}
    async with httpx.AsyncClient(timeout=2) as probe:
        while not restart.done():
            for replica in cluster.nodes:
                try:
                    answer = await probe.get(f"{replica.url}/readyz")
                except httpx.TransportError:
                    continue  # stopped, or not listening yet
                if answer.status_code == 503:
                    seen.setdefault(replica.name, set()).add(answer.json()["code"])
            await asyncio.sleep(0.05)
    return seen


async def test_rolling_restart_fails_no_request_and_resumes_signaling(
    healthy: Cluster, sessionmaker: async_sessionmaker[AsyncSession], seed_settings: Settings
) -> None:
    cluster = healthy
    tenant = await make_tenant(sessionmaker, seed_settings, prefix="99013", name="寅村", office_code="99113")
    seen = Seen()
    counters = [CounterDevice(cluster.url, cluster.ca_file, tenant, seen) for _ in range(3)]
    # A live signaling channel through the load balancer, which every restart cuts (1012) and the clients resume.
    device = device_client(cluster, tenant)
    officer_http = hub_http_client(cluster.url, httpx.Auth(), ca_file=cluster.ca_file)
    created = await device.post(
        "/api/v1/cases", json={"municipality_code": tenant.municipality_code, "procedure": "pin_reset"}
    )
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    await assign_officer(sessionmaker, case_id, tenant.usernames[Role.officer])
    officer_http.headers.update(await login(officer_http, tenant.usernames[Role.officer]))
    clerk = HubSignaling(device, case_id, role="clerk", resume_window_s=30)
    officer = HubSignaling(officer_http, case_id, role="officer", resume_window_s=30)
    stop = asyncio.Event()
    traffic = asyncio.create_task(run_counters(counters, stop, minimum=2))
    try:
        await clerk.connect()
        await officer.connect()
        await officer.wait_for_peer(10)
        await until(lambda: len(seen.acknowledged) >= 3 or traffic.done(), 60, "traffic to flow")
        restart = asyncio.create_task(asyncio.to_thread(cluster.rolling_restart))
        readiness = await _readiness_during(cluster, restart)
        await restart
        stop.set()
        async with asyncio.timeout(180):
            await traffic
        # Both participants came back through the load balancer, resumed, and still reach each other.
        await clerk.send(OfferMessage(seq=0, room=case_id, sdp="v=0 after restart"))
        async with asyncio.timeout(20):
            received = await officer.recv()
            while not isinstance(received, OfferMessage):
                received = await officer.recv()
        assert received.sdp == "v=0 after restart"
        assert clerk.reconnects >= 1 or officer.reconnects >= 1
    finally:
        stop.set()
        if not traffic.done():
            traffic.cancel()
        await clerk.close()
        await officer.close()
        await device.aclose()
        await officer_http.aclose()
        for counter in counters:
            await counter.aclose()
    # Each replica drained before it stopped: readiness said so while the replica still answered.
    assert {name: "draining" in codes for name, codes in readiness.items()} == {
        replica.name: True for replica in cluster.nodes
    }
    # Zero failed requests: not one transport error, not one status other than 2xx, not even a 503 to retry.
    assert seen.failures == []
    assert set(seen.statuses) <= {200, 201}, seen.statuses
    await acknowledged_states_kept(sessionmaker, seen.acknowledged)
