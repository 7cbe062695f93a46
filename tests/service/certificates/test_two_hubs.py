"""Two `hub serve` replicas on one database, kiosks and clerks spread over both, one replica SIGKILLed while receipts
are being issued: every document a clerk prints is still its receipt's resident's (zero mix-ups), and a request the
dead replica never answered is retried by the kiosk on the other one.

The 2024 高松 failure was a multi-server site running a single-server build; here the replicas share nothing but the
database (and the KEK file and signing root, as a deployment does), and each step locks the job's row.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clerk_agent.link.auth import DeviceAuth
from service import migrate
from service.accounts import service as accounts_service
from service.accounts.roles import SYSTEM
from service.audit.checkpoints import load_signing_key
from service.certificates.config import DEFAULT
from service.certificates.models import CertificateConfig
from service.config import Environment, Settings
from service.db import create_engine, create_sessionmaker, unit_of_work
from service.evidence.runtime import load_keyring
from service.kit import clock
from service.wire import device_auth
from tests._procs import free_port
from tests.factories import make_tenant
from tests.service.certificates.conftest import ALWAYS_OPEN, Holder, make_holder, pdf_text

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
HUB = str(Path(sys.executable).parent / "hub")
RESIDENTS = int(os.environ.get("CERT_TEST_TWO_HUB_RESIDENTS", "16"))


async def _serve(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        HUB, "serve", "--port", str(port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as probe:
        while True:
            try:
                if (await probe.get(f"{base}/readyz", timeout=1)).status_code == 200:
                    return proc, base
            except httpx.TransportError:
                pass
            assert proc.returncode is None, "hub serve exited"
            assert time.monotonic() < deadline, "hub serve did not come up"
            await asyncio.sleep(0.1)


async def _kill9(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)


@pytest.fixture
async def replicas(
    fresh_database_url: str, tmp_path: Path, dev_pki_dir: Path
) -> AsyncIterator[tuple[list[Any], Settings, list[Holder], list[str]]]:
    """A migrated database with tenant A, its register file, and two hub processes serving it."""
    engine = create_engine(fresh_database_url)
    try:
        await migrate.upgrade(engine)
        settings = Settings(
            environment=Environment.test, database_url=fresh_database_url, data_dir=tmp_path / "data"
        )
        sessionmaker = create_sessionmaker(engine)
        tenant = await make_tenant(sessionmaker, settings, prefix="99001", name="甲市", office_code="99101")
        devices: list[tuple[str, Ed25519PrivateKey]] = []
        async with unit_of_work(sessionmaker) as session:
            session.add(
                CertificateConfig(
                    id="ccf_two_hubs",
                    municipality_code=tenant.municipality_code,
                    version=1,
                    body={**DEFAULT.model_dump(mode="json"), **ALWAYS_OPEN},
                    created_by=SYSTEM.id,
                    created_at=clock.now(),
                )
            )
            for n in range(6):
                code, _ = await accounts_service.issue_enrolment_code(
                    session,
                    actor=SYSTEM,
                    post_office_id=tenant.post_office_id,
                    device_name=f"d{n}",
                    settings=settings,
                )
                key = Ed25519PrivateKey.generate()
                device = await accounts_service.enrol_device(
                    session, code=code, public_key=device_auth.public_key_text(key)
                )
                devices.append((device.id, key))
    finally:
        await engine.dispose()
    holders = [make_holder(dev_pki_dir, tenant.municipality_code) for _ in range(RESIDENTS)]
    register = tmp_path / "register.json"
    register.write_text(
        json.dumps([h.record.to_json() for h in holders], ensure_ascii=False), encoding="utf-8"
    )
    env = {
        **os.environ,
        "HUB_DATABASE_URL": fresh_database_url,
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_ENVIRONMENT": "development",
        "HUB_JLIS_ADAPTER": "off",
        "HUB_DEV_PKI_DIR": str(dev_pki_dir),
        "HUB_RESIDENT_SIMULATOR_FILE": str(register),
        "HUB_PUBLIC_ORIGIN": "http://hub.test",
    }
    # The files the replicas share (the KEK and the audit key) exist before both start at once, as in a deployment.
    load_keyring(settings)
    load_signing_key(settings)
    procs: list[asyncio.subprocess.Process] = []
    try:
        started = await asyncio.gather(_serve(env), _serve(env), return_exceptions=True)
        for outcome in started:
            if not isinstance(outcome, BaseException):
                procs.append(outcome[0])
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        bases = [base for _, base in started]  # type: ignore[misc]
        clients = [
            httpx.AsyncClient(
                base_url=bases[n % 2], auth=DeviceAuth(device_id, key), timeout=httpx.Timeout(30.0)
            )
            for n, (device_id, key) in enumerate(devices)
        ]
        yield [procs, clients, bases, tenant.municipality_code, devices], settings, holders, bases
        for client in clients:
            await client.aclose()
    finally:
        for proc in procs:
            await _kill9(proc)


async def _request(kiosk: httpx.AsyncClient, code: str, holder: Holder) -> dict[str, Any]:
    body = {"municipality_code": code, "kind": "juminhyo", "scope": "self", "count": 1}
    opened = await kiosk.post("/api/v1/certificates/requests", json=body)
    assert opened.status_code == 201, opened.text
    challenge = opened.json()
    answered = await kiosk.post(
        f"/api/v1/certificates/requests/{challenge['request_id']}/proof", json=holder.prove(challenge)
    )
    assert answered.status_code == 200, answered.text
    return dict(answered.json()["receipt"])


async def test_two_replicas_one_killed_mid_issue_zero_mix_ups(
    replicas: tuple[list[Any], Settings, list[Holder], list[str]], tmp_path: Path
) -> None:
    (procs, clients, bases, code, devices), _, holders, _ = replicas
    kiosks, stations = (
        clients[:4],
        clients[4:],
    )  # kiosks 0, 2 on replica 1; 1, 3 on replica 2; stations on both
    survivor = httpx.AsyncClient(base_url=bases[0], auth=DeviceAuth(*devices[1]), timeout=httpx.Timeout(30.0))
    retried = 0

    async def kiosk_flow(n: int, holder: Holder) -> tuple[Holder, dict[str, Any]]:
        nonlocal retried
        try:
            return holder, await _request(kiosks[n % 4], code, holder)
        except httpx.TransportError:
            # The replica died under this request: the terminal starts again on the other (a new nonce; an
            # orphaned receipt of the dead attempt, if it committed, is never handed to anyone and expires).
            retried += 1
            return holder, await _request(survivor, code, holder)

    async def killer() -> None:
        await asyncio.sleep(0.3)  # let requests reach the second replica, then take it away mid-issue
        await _kill9(procs[1])

    issued, _ = await asyncio.gather(
        asyncio.gather(*(kiosk_flow(n, h) for n, h in enumerate(holders))), killer()
    )
    live_stations = [s for s in stations if str(s.base_url).rstrip("/") == bases[0]]
    mixups: list[str] = []
    prints = 0
    for n, (holder, receipt) in enumerate(issued):
        station = live_stations[n % len(live_stations)]
        scans = await asyncio.gather(
            station.post("/api/v1/certificates/scans", json={"receipt_number": receipt["receipt_number"]}),
            station.post("/api/v1/certificates/scans", json={"receipt_number": receipt["receipt_number"]}),
        )
        assert all(s.status_code == 200 for s in scans), [s.text for s in scans]
        job = scans[0].json()
        document = await station.get(
            f"/api/v1/certificates/jobs/{job['id']}/document",
            params={"receipt_number": job["receipt_number"]},
        )
        assert document.status_code == 200, document.text
        text = await asyncio.to_thread(pdf_text, document.content, tmp_path)
        others = [h.record.name for h in holders if h is not holder and h.record.name in text]
        if holder.record.name not in text or others:
            mixups.append(receipt["receipt_number"])
        legs = {k: job["binding"][k] for k in ("receipt_number", "nonce_sha256", "content_sha256")}
        printed = await station.post(f"/api/v1/certificates/jobs/{job['id']}/printed", json=legs)
        assert printed.status_code == 200, printed.text
        prints += 1
    await survivor.aclose()
    sys.stdout.write(
        f"\n[certificates two hubs] replicas=2 (one SIGKILLed mid-issue) kiosks=4 clerks={len(live_stations)} "
        f"receipts={len(issued)} retried_after_kill={retried} prints={prints} mixups={len(mixups)} "
        f"at={dt.datetime.now(dt.UTC):%H:%M:%S}\n"
    )
    assert mixups == []
    assert len({r["receipt_number"] for _, r in issued}) == RESIDENTS
    assert procs[1].returncode is not None
