"""Whole case lifecycles through the load balancer: cases/s and p50/p99 per call, 1 replica vs 2, beside a bare floor.

For each replica count a fresh cluster (deploy/cluster: its own PostgreSQL, `hub serve` replicas, HAProxy with TLS)
gets `--pairs` synthetic municipalities, each with one counter device and one officer. Every pair runs case after
case for `--seconds`, the calls the tests make (tests/factories.py, the scripted officer):
create → check-in → precheck → consents → request-verification (queued) → the officer's presence, offer long-poll
and accept → card challenge, the virtual card's proof (read in this process from the `hub dev-pki` test card) →
capture-evidence → begin-review → video live, checklist, liveness challenge and result → approve → the 顔認証
choice that finalizes it (pin_request_sealed). Renewals (card_renewal): the holder brings a card to prove.

The floor, in the same run, on the same PostgreSQL server: a bare FastAPI + asyncpg endpoint (one uvicorn process,
plain HTTP, no load balancer) that inserts one row like a case creation, hammered by the same number of clients.
Everything runs on this machine, the clients included: the load average is printed before and after.

    .venv/bin/python -m bench.cluster_load [--pairs 8] [--seconds 30] [--replicas 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from pydantic import SecretStr

from clerk_agent.card.protocol import MyNumberCard
from clerk_agent.card.reading import PossessionChallenge, read_at_counter
from clerk_agent.card.virtual.build import build_virtual_card, load_card_material, person
from clerk_agent.card.virtual.card import VirtualMyNumberCard
from clerk_agent.card.virtual.transport import InProcessTransport
from clerk_agent.link.auth import DeviceAuth
from deploy.cluster import Cluster, loadbalancer
from service.accounts.roles import Role
from service.config import Environment, Settings
from service.db import create_engine, create_sessionmaker
from tests._procs import free_port, stop
from tests.factories import CONSENTS, ELIGIBLE, PASSWORD, Tenant, make_tenant, shinseisho_id

HOLDER: Final = "yamada_hanako"
ROOT: Final = Path(__file__).resolve().parent.parent
IDLE_S: Final = 5.0
CHECKLIST: Final = {
    "id_combination": "A1_with_pin",
    "face_match": True,
    "attributes_match": True,
    "eligibility_confirmed": True,
    "documents_authentic": True,
}


@dataclass
class Tally:
    """Durations per call name, and the cases that reached the end."""

    calls: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    completed: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Timed:
    """An HTTP client that records each call's duration under a name, and fails loudly on an unexpected status."""

    def __init__(self, client: httpx.AsyncClient, tally: Tally) -> None:
        self.client = client
        self.tally = tally

    async def call(
        self, name: str, method: str, url: str, expect: int = 200, **kwargs: Any
    ) -> dict[str, Any]:
        started = time.perf_counter()
        response = await self.client.request(method, url, **kwargs)
        self.tally.calls[name].append(time.perf_counter() - started)
        if response.status_code != expect:
            raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")
        return dict(response.json()) if response.content else {}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000 if ordered else float("nan")


def _prove(card: VirtualMyNumberCard, challenge: dict[str, Any]) -> dict[str, Any]:
    """The counter's card read (PIN, signature over the challenge, card face), as the agent posts it."""
    holder = person(HOLDER)
    read = read_at_counter(
        MyNumberCard(InProcessTransport(card)),
        auth_pin=bytearray(holder.auth_pin.encode()),
        code_b=bytearray(holder.code_b.encode()),
        challenge=PossessionChallenge(challenge["origin"], challenge["nonce"], challenge["case_id"]),
    )
    return {
        "challenge_id": challenge["challenge_id"],
        "certificate": base64.b64encode(read.auth_certificate).decode(),
        "signature": base64.b64encode(read.signature).decode(),
        "atr": read.atr.hex(),
        "card_face": base64.b64encode(read.card_face.raw).decode() if read.card_face else None,
        "card_face_signature": (
            base64.b64encode(read.card_face_signature).decode() if read.card_face_signature else None
        ),
    }


async def one_case(device: Timed, officer: Timed, tenant: Tenant, card: VirtualMyNumberCard) -> None:
    """One renewal from creation to finalization; raises on the first unexpected answer."""
    body = {
        "municipality_code": tenant.municipality_code,
        "procedure": "card_renewal",
        "shinseisho_id": shinseisho_id(),
    }
    case = await device.call("create", "POST", "/api/v1/cases", 201, json=body)
    base = f"/api/v1/cases/{case['id']}"
    await device.call("check-in", "POST", f"{base}/check-in", json={})
    await device.call("precheck", "POST", f"{base}/precheck", json={"answers": ELIGIBLE})
    await device.call("consents", "POST", f"{base}/consents", json={"consents": CONSENTS})
    await device.call("request-verification", "POST", f"{base}/request-verification", json={})
    await officer.call("presence", "PUT", "/api/v1/officers/me/presence", json={"status": "available"})
    offer = await officer.call("offer (long-poll)", "GET", "/api/v1/officers/me/offer", params={"wait": 10})
    if offer.get("case_id") != case["id"]:
        raise RuntimeError(f"offer for another case: {offer}")
    await officer.call("accept", "POST", f"/api/v1/offers/{offer['id']}/accept")
    challenge = await device.call("card-challenge", "POST", f"{base}/card-challenges", 201)
    proof = await asyncio.to_thread(_prove, card, challenge)
    await device.call("card-proof", "POST", f"{base}/card-proofs", 201, json=proof)
    await device.call("capture-evidence", "POST", f"{base}/capture-evidence", json={})
    await officer.call("begin-review", "POST", f"{base}/begin-review", json={})
    await officer.call("video-status", "POST", f"{base}/video-status", json={"state": "live"})
    await officer.call("checklist", "PUT", f"{base}/checklist", json=CHECKLIST)
    liveness = await officer.call("liveness-challenge", "POST", f"{base}/liveness-challenges", 201)
    await officer.call(
        "liveness-result",
        "POST",
        f"{base}/liveness-challenges/{liveness['id']}/result",
        json={"passed": True},
    )
    await officer.call("approve", "POST", f"{base}/approve", json={"attested": True})
    done = await device.call(
        "finalize (pin-request)", "POST", f"{base}/pin-request", json={"face_auth": True}
    )
    if done.get("state") != "pin_request_sealed":
        raise RuntimeError(f"not finalized: {done}")


async def run_pair(
    cluster: Cluster, tenant: Tenant, card: VirtualMyNumberCard, tally: Tally, until: float
) -> None:
    """One counter and its officer, case after case until `until`."""
    verify = str(cluster.ca_file)
    limits = httpx.Limits(keepalive_expiry=2.0)
    async with (
        httpx.AsyncClient(
            base_url=cluster.url, verify=verify, limits=limits, timeout=30,
            auth=DeviceAuth(tenant.device_id, tenant.device_key),
        ) as device_http,
        httpx.AsyncClient(base_url=cluster.url, verify=verify, limits=limits, timeout=30) as officer_http,
    ):  # fmt: skip
        login = await officer_http.post(
            "/api/v1/auth/login", json={"username": tenant.usernames[Role.officer], "password": PASSWORD}
        )
        login.raise_for_status()
        officer_http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        device, officer = Timed(device_http, tally), Timed(officer_http, tally)
        while time.perf_counter() < until:
            try:
                await one_case(device, officer, tenant, card)
                tally.completed += 1
            except (RuntimeError, httpx.HTTPError) as exc:
                tally.failed += 1
                tally.errors[str(exc)[:120]] += 1


async def _tenants(cluster: Cluster, pairs: int) -> list[Tenant]:
    settings = Settings(
        environment=Environment.development,
        database_url=cluster.database_url,
        data_dir=cluster.data_dir,
        secret_key=SecretStr(cluster.secret_key),
    )
    engine = create_engine(cluster.database_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        return [
            await make_tenant(
                sessionmaker, settings, prefix=f"98{i:03d}", name=f"負荷市{i}", office_code=f"97{i:03d}"
            )
            for i in range(pairs)
        ]
    finally:
        await engine.dispose()


@dataclass
class Result:
    label: str
    seconds: float
    tally: Tally
    floor: tuple[float, list[float]] | None = None
    hub_cpu: float = 0.0
    pg_cpu: float = 0.0
    idle_hub: float = 0.0
    idle_pg: float = 0.0

    @property
    def cases_per_s(self) -> float:
        return self.tally.completed / self.seconds


async def lifecycle_run(replicas: int, args: argparse.Namespace, pki: Path, *, with_floor: bool) -> Result:
    """A fresh cluster of `replicas`, `args.pairs` pairs for `args.seconds`."""
    extra = {
        "HUB_OFFICER_WRAPUP_SECONDS": "0",
        "HUB_LOGIN_RATE_BURST": "1000",
    }
    # HAProxy's readiness check gives a replica 300 ms by default (a fault test wants it out fast); on this
    # shared 2-core machine under load /readyz takes longer and the only replica is taken out, so the run would
    # measure the check's policy (503s), not the hub. 2 s here.
    loadbalancer.CHECK_INTER_MS = 2000
    cluster = Cluster(replicas=replicas, dev_pki_dir=pki, extra_env=extra, seed_demo=False)
    await asyncio.to_thread(cluster.start)
    try:
        tenants = await _tenants(cluster, args.pairs)
        # One card per counter (a virtual card is a single-threaded chip, like a real one).
        cards = [build_virtual_card(person(HOLDER), load_card_material(pki, HOLDER)) for _ in tenants]
        tally = Tally()
        # What the replicas burn with no request (queue tick, outbox worker, checkpoints): subtracted per second.
        idle_hub, idle_pg = _cluster_cpu(cluster)
        await asyncio.sleep(IDLE_S)
        hub_cpu, pg_cpu = _cluster_cpu(cluster)
        idle_hub, idle_pg = (hub_cpu - idle_hub) / IDLE_S, (pg_cpu - idle_pg) / IDLE_S
        started = time.perf_counter()
        until = started + args.seconds
        await asyncio.gather(
            *(run_pair(cluster, t, c, tally, until) for t, c in zip(tenants, cards, strict=True))
        )
        result = Result(
            f"{replicas} replica{'s' if replicas > 1 else ''}", time.perf_counter() - started, tally
        )
        hub_after, pg_after = _cluster_cpu(cluster)
        result.hub_cpu, result.pg_cpu = hub_after - hub_cpu, pg_after - pg_cpu
        result.idle_hub, result.idle_pg = idle_hub, idle_pg
        if with_floor:
            # The floor on the same PostgreSQL server, with as many clients as the run had.
            dsn = cluster.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
            postmaster = cluster.postgres.pid()
            result.floor = await bare_run(dsn, args.pairs * 2, args.seconds, postmaster)
        return result
    finally:
        await asyncio.to_thread(cluster.stop)


# --- the floor: a bare FastAPI + asyncpg insert ------------------------------------------------------------


def bare_app(dsn: str) -> object:
    """POST /cases inserts one row (a case-like record) with asyncpg from a pool; nothing else."""
    from contextlib import asynccontextmanager

    import asyncpg  # type: ignore[import-untyped]
    from fastapi import FastAPI

    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
        await pool.execute(
            "CREATE TABLE IF NOT EXISTS bare_case (id text PRIMARY KEY, municipality_code text NOT NULL, "
            "procedure text NOT NULL, state text NOT NULL, shinseisho_id text, created_at timestamptz NOT NULL)"
        )
        state["pool"] = pool
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/cases", status_code=201)
    async def create(body: dict[str, str]) -> dict[str, str]:
        case_id = secrets.token_hex(12)
        await state["pool"].execute(
            "INSERT INTO bare_case VALUES ($1, $2, $3, 'draft', $4, now())",
            case_id,
            body["municipality_code"],
            body["procedure"],
            body.get("shinseisho_id"),
        )
        return {"id": case_id, "state": "draft"}

    return app


async def bare_run(
    dsn: str, clients: int, seconds: float, postmaster: int | None
) -> tuple[float, list[float]]:
    """Requests/s and latencies of `clients` loops posting to the bare endpoint."""
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603, ASYNC220 - this module in a child process, started once
        [sys.executable, "-m", "bench.cluster_load", "--serve-bare", str(port), "--dsn", dsn],
        cwd=ROOT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    await client.post("/cases", json={"municipality_code": "999997", "procedure": "warm"})
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    await asyncio.sleep(0.1)
            latencies: list[float] = []
            until = time.perf_counter() + seconds

            async def loop() -> None:
                body = {"municipality_code": "999997", "procedure": "card_renewal", "shinseisho_id": "0" * 23}
                while time.perf_counter() < until:
                    started = time.perf_counter()
                    (await client.post("/cases", json=body)).raise_for_status()
                    latencies.append(time.perf_counter() - started)

            cpu_before = _cpu_seconds(proc.pid)
            pg_before = _postgres_cpu(postmaster) if postmaster else 0.0
            started = time.perf_counter()
            await asyncio.gather(*(loop() for _ in range(clients)))
            rate = len(latencies) / (time.perf_counter() - started)
            server = (_cpu_seconds(proc.pid) - cpu_before) / len(latencies) * 1000
            database = (
                ((_postgres_cpu(postmaster) - pg_before) if postmaster else 0.0) / len(latencies) * 1000
            )
            print(
                f"  floor: CPU per insert request: server {server:.1f} ms, PostgreSQL {database:.1f} ms",
                flush=True,
            )
            return rate, latencies
    finally:
        stop(proc)


_TICK: Final = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU of a process (and of its exited, reaped children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / _TICK


def _postgres_cpu(postmaster: int) -> float:
    """CPU of the PostgreSQL server: the postmaster with its exited backends, plus every live backend."""
    total = _cpu_seconds(postmaster, children=True)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(parts[1]) == postmaster:
            total += _cpu_seconds(int(stat.parent.name))
    return total


def _cluster_cpu(cluster: Cluster) -> tuple[float, float]:
    """(hub replicas, PostgreSQL) CPU-seconds so far."""
    hubs = sum(_cpu_seconds(r.proc.pid) for r in cluster.nodes if r.proc is not None)
    postmaster = cluster.postgres.pid()
    return hubs, _postgres_cpu(postmaster) if postmaster is not None else 0.0


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def main(args: argparse.Namespace) -> None:
    from service.cardproof.devpki import main as devpki_main

    print(
        f"cluster load: {args.pairs} counter+officer pairs, {args.seconds:g} s per run, renewals end to end"
    )
    print(f"load average before: {_loadavg()}  (cores: {os.cpu_count()})", flush=True)
    pki = Path(tempfile.mkdtemp(prefix="madoguchi-bench-pki-"))
    if devpki_main(["--out", str(pki), "--force"]) != 0:
        raise SystemExit("hub dev-pki failed")
    results: list[Result] = []
    for index, replicas in enumerate(int(r) for r in args.replicas.split(",")):
        result = await lifecycle_run(replicas, args, pki, with_floor=index == 0)
        results.append(result)
        print(
            f"  {result.label}: {result.tally.completed} cases, {result.tally.failed} failed, load {_loadavg()}",
            flush=True,
        )
    bare_rps, bare_lat = next(r.floor for r in results if r.floor is not None)
    names = list(dict.fromkeys(n for r in results for n in r.tally.calls))
    print()
    header = f"{'call':<24}" + "".join(f"{r.label + ' p50/p99 ms':>26}" for r in results)
    print(header)
    for name in names:
        cells = "".join(
            f"{_pct(r.tally.calls[name], 0.5):>12.1f} / {_pct(r.tally.calls[name], 0.99):>9.1f}  "
            for r in results
        )
        print(f"{name:<24}{cells}")
    print()
    for r in results:
        every = [d for durations in r.tally.calls.values() for d in durations]
        print(
            f"{r.label:<12} {r.cases_per_s:6.2f} cases/s  ({r.tally.completed} in {r.seconds:.0f} s, "
            f"{r.tally.failed} failed)  {len(every) / r.seconds:6.0f} calls/s, all calls p50 {_pct(every, 0.5):.1f} ms "
            f"p99 {_pct(every, 0.99):.1f} ms"
        )
        if r.tally.completed:
            busy_hub = r.hub_cpu - r.idle_hub * r.seconds
            busy_pg = r.pg_cpu - r.idle_pg * r.seconds
            print(
                f"{'':<12} CPU per case: hub replicas {r.hub_cpu / r.tally.completed * 1000:.0f} ms "
                f"({busy_hub / r.tally.completed * 1000:.0f} ms above idle), PostgreSQL "
                f"{r.pg_cpu / r.tally.completed * 1000:.0f} ms ({busy_pg / r.tally.completed * 1000:.0f} ms above idle); "
                f"per call: hub {r.hub_cpu / max(1, len(every)) * 1000:.1f} ms; idle: hub replicas "
                f"{r.idle_hub * 1000:.0f} ms/s, PostgreSQL {r.idle_pg * 1000:.0f} ms/s"
            )
        for error, count in r.tally.errors.items():
            print(f"    {count} × {error}")
    if len(results) >= 2 and results[0].cases_per_s:
        print(
            f"ratio {results[1].label} / {results[0].label}: {results[1].cases_per_s / results[0].cases_per_s:.2f}"
        )
    print(
        f"floor: bare FastAPI + asyncpg insert, {args.pairs * 2} clients: {bare_rps:,.0f} requests/s, "
        f"p50 {_pct(bare_lat, 0.5):.1f} ms p99 {_pct(bare_lat, 0.99):.1f} ms"
    )
    print(f"load average after: {_loadavg()}")


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=8, help="concurrent counter + officer pairs")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--replicas", default="1,2")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    parsed = _parse()
    if parsed.serve_bare:
        import uvicorn

        uvicorn.run(bare_app(parsed.dsn), host="127.0.0.1", port=parsed.serve_bare, log_level="warning")  # type: ignore[arg-type]
    else:
        asyncio.run(main(parsed))
