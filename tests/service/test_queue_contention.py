"""Assignment under contention: 100 requests and 10 officers across two hub processes on one database.

No case is accepted twice, no officer ever holds two live cases, and offers spread over the officers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from clerk_agent.link.auth import DeviceAuth
from service.audit.models import AuditEvent
from service.config import Environment, Settings
from service.db import create_engine, create_sessionmaker
from service.migrate import upgrade
from tests._procs import free_port
from tests.factories import PASSWORD, Tenant, make_tenant
from tests.service.conftest import CONSENTS, ELIGIBLE

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
HUB = str(Path(sys.executable).parent / "hub")
CASES, OFFICERS = 100, 10


@pytest.fixture
def two_hubs(fresh_database_url: str, tmp_path: Path) -> Iterator[tuple[list[str], Tenant, str]]:
    """Two `hub serve` processes on one fresh database with a seeded tenant and ten officers."""
    settings = Settings(
        environment=Environment.test, database_url=fresh_database_url, data_dir=tmp_path / "seed"
    )

    async def seed() -> Tenant:
        engine = create_engine(fresh_database_url)
        try:
            await upgrade(engine)
            sessionmaker = create_sessionmaker(engine)
            tenant = await make_tenant(
                sessionmaker, settings, prefix="99007", name="競合市", office_code="99107"
            )
            from service.accounts import service as accounts_service
            from service.accounts.roles import SYSTEM, Role
            from service.db import unit_of_work

            async with unit_of_work(sessionmaker) as session:
                for i in range(OFFICERS):
                    await accounts_service.create_account(
                        session,
                        actor=SYSTEM,
                        username=f"busy-officer-{i}",
                        display_name=f"職員{i}",
                        role=Role.officer,
                        password=PASSWORD,
                        municipality_code=tenant.municipality_code,
                        post_office_id=None,
                    )
            return tenant
        finally:
            await engine.dispose()

    tenant = asyncio.run(seed())
    env = {
        **os.environ,
        "HUB_DATABASE_URL": fresh_database_url,
        "HUB_DATA_DIR": str(tmp_path / "hub"),
        "HUB_ENVIRONMENT": "test",
        "HUB_OFFICER_WRAPUP_SECONDS": "0",
        "HUB_OFFER_ACCEPT_TIMEOUT_SECONDS": "30",
    }
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [HUB, "serve", "--port", str(p)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for p in ports
    ]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for base, proc in zip(bases, procs, strict=True):
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, "hub exited"
                asyncio.run(asyncio.sleep(0.1))
        yield bases, tenant, fresh_database_url
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_no_double_assignment_across_two_processes(two_hubs: tuple[list[str], Tenant, str]) -> None:
    bases, tenant, url = two_hubs

    async def scenario() -> tuple[list[str], list[tuple[str, str]]]:
        auth = DeviceAuth(tenant.device_id, tenant.device_key)
        devices = [httpx.AsyncClient(base_url=b, auth=auth, timeout=30) for b in bases]
        officers: list[list[httpx.AsyncClient]] = []
        try:
            for i in range(OFFICERS):
                token = (
                    await devices[i % 2].post(
                        "/api/v1/auth/login", json={"username": f"busy-officer-{i}", "password": PASSWORD}
                    )
                ).json()["access_token"]
                officers.append(
                    [
                        httpx.AsyncClient(
                            base_url=b, headers={"Authorization": f"Bearer {token}"}, timeout=30
                        )
                        for b in bases
                    ]
                )

            async def queue_case(n: int) -> str:
                device = devices[n % 2]
                created = await device.post(
                    "/api/v1/cases",
                    json={"municipality_code": tenant.municipality_code, "procedure": "pin_reset"},
                )
                assert created.status_code == 201, created.text
                cid = str(created.json()["id"])
                for action, body in (
                    ("check-in", {}),
                    ("precheck", {"answers": ELIGIBLE}),
                    ("consents", {"consents": CONSENTS}),
                    ("request-verification", {}),
                ):
                    response = await devices[(n + 1) % 2].post(f"/api/v1/cases/{cid}/{action}", json=body)
                    assert response.status_code == 200, response.text
                return cid

            accepted: list[tuple[str, str]] = []
            offered_to: list[str] = []
            done = asyncio.Event()

            async def work(i: int) -> None:
                mine = officers[i]
                while not done.is_set():
                    await mine[i % 2].put("/api/v1/officers/me/presence", json={"status": "available"})
                    offer = await mine[(i + 1) % 2].get("/api/v1/officers/me/offer", params={"wait": 1})
                    if offer.status_code != 200:
                        continue
                    offered_to.append(f"busy-officer-{i}")
                    taken = await mine[i % 2].post(f"/api/v1/offers/{offer.json()['id']}/accept")
                    assert taken.status_code == 200, taken.text
                    accepted.append((offer.json()["case_id"], f"busy-officer-{i}"))
                    aborted = await mine[(i + 1) % 2].post(
                        f"/api/v1/cases/{offer.json()['case_id']}/abort", json={"reason_code": "other"}
                    )
                    assert aborted.status_code == 200, aborted.text
                    if len(accepted) >= CASES:
                        done.set()

            workers = [asyncio.create_task(work(i)) for i in range(OFFICERS)]
            cases: list[str] = []
            for batch in range(0, CASES, 10):
                cases += await asyncio.gather(*(queue_case(n) for n in range(batch, batch + 10)))
            await asyncio.wait_for(done.wait(), timeout=240)
            await asyncio.gather(*workers)
            return cases, accepted
        finally:
            for client in devices + [c for pair in officers for c in pair]:
                await client.aclose()

    cases, accepted = asyncio.run(scenario())
    assert len(cases) == CASES
    per_case = Counter(case_id for case_id, _ in accepted)
    assert set(per_case) == set(cases)
    assert max(per_case.values()) == 1, "a case was accepted twice"

    async def audit_rows() -> list[tuple[str, str | None, str]]:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session:
                rows = await session.execute(
                    select(AuditEvent.actor_id, AuditEvent.case_id, AuditEvent.action)
                    .where(AuditEvent.action.in_(["case.accept", "case.abort"]))
                    .order_by(AuditEvent.chain, AuditEvent.seq)
                )
                return [(a, c, x) for a, c, x in rows.all()]
        finally:
            await engine.dispose()

    # In the single ordered chain, every officer's accepts and aborts alternate: never two live cases at once.
    live: dict[str, str | None] = {}
    for actor, case_id, action in asyncio.run(audit_rows()):
        if action == "case.accept":
            assert live.get(actor) is None, f"{actor} took {case_id} while holding {live[actor]}"
            live[actor] = case_id
        else:
            assert live.get(actor) == case_id
            live[actor] = None
    spread = Counter(officer for _, officer in accepted)
    assert len(spread) == OFFICERS, spread  # every officer got work
    assert max(spread.values()) <= CASES // 2, spread  # nobody got the lion's share
