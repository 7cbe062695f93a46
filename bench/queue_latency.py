"""Clerk request → offer on an available officer's console, p50/p99, with 500 cases waiting and 50 officers.

Beside it, in the same run and on the same PostgreSQL: the floor of a bare `SELECT … FOR UPDATE SKIP LOCKED`
claim from a 500-row queue table. The hub runs as `hub serve` on a fresh database; the consoles long-poll
`GET /api/v1/officers/me/offer?wait=…` as the real console does.

With `--runs N` the seeded hub is measured N times, each run followed by its own floor, and the spread (min,
median, max of each run's p50 and p99) is printed: one run's p99 is one or two samples, and the machine is shared.
The hub's CPU time per sample (user + system, from /proc) is printed too. It moves less than wall-clock latency
but still with the machine's load (on 2 shared cores: ~90 ms at load 4, ~195 ms at load 6 for the same code), so
compare it only with a run at a like load average.

    .venv/bin/python bench/queue_latency.py   (not bench/queue.py: that name would shadow the standard library's queue module) [--samples 100] [--officers 50] [--backlog 500] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from clerk_agent.link.auth import DeviceAuth  # noqa: E402
from service.accounts import service as accounts_service  # noqa: E402
from service.accounts.roles import SYSTEM, Role  # noqa: E402
from service.config import Environment, Settings  # noqa: E402
from service.db import create_engine, create_sessionmaker, unit_of_work  # noqa: E402
from service.migrate import upgrade  # noqa: E402
from tests.factories import CONSENTS, ELIGIBLE, PASSWORD, Tenant, make_tenant  # noqa: E402

ADMIN_URL = os.environ.get("HUB_TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


# Drop an idle connection before the server's 5 s keep-alive does, so that no request is sent down a
# connection the server is closing at that moment (an httpx.ReadError the real clients retry).
LIMITS = httpx.Limits(keepalive_expiry=2.0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def fresh_database() -> tuple[str, str]:
    name = f"madoguchi_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return name, ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(name: str) -> None:
    admin = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def seed(url: str, officers: int, data_dir: Path) -> tuple[Tenant, Tenant]:
    engine = create_engine(url)
    await upgrade(engine)
    sessionmaker = create_sessionmaker(engine)
    settings = Settings(environment=Environment.test, database_url=url, data_dir=data_dir)
    measured = await make_tenant(sessionmaker, settings, prefix="99008", name="計測市", office_code="99108")
    backlog = await make_tenant(sessionmaker, settings, prefix="99009", name="滞留町", office_code="99109")
    async with unit_of_work(sessionmaker) as session:
        for i in range(officers):
            await accounts_service.create_account(
                session,
                actor=SYSTEM,
                username=f"bench-officer-{i}",
                display_name=f"職員{i}",
                role=Role.officer,
                password=PASSWORD,
                municipality_code=measured.municipality_code,
                post_office_id=None,
            )
    await engine.dispose()
    return measured, backlog


async def queue_case(device: httpx.AsyncClient, municipality: str) -> str:
    created = await device.post(
        "/api/v1/cases", json={"municipality_code": municipality, "procedure": "pin_reset"}
    )
    created.raise_for_status()
    case_id = str(created.json()["id"])
    for action, body in (
        ("check-in", {}),
        ("precheck", {"answers": ELIGIBLE}),
        ("consents", {"consents": CONSENTS}),
    ):
        (await device.post(f"/api/v1/cases/{case_id}/{action}", json=body)).raise_for_status()
    return case_id


@dataclass
class Run:
    """One measured run: request → offer latencies, the floor beside it, the hub's CPU time per sample."""

    hub_ms: list[float]
    floor_ms: list[float]
    hub_cpu_ms: float
    load: float


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def hub_round(
    base: str,
    url: str,
    hub_pid: int,
    measured: Tenant,
    backlog: Tenant,
    *,
    samples: int,
    officers: int,
    backlog_size: int,
    runs: int,
) -> list[Run]:
    async with (
        httpx.AsyncClient(
            base_url=base, auth=DeviceAuth(measured.device_id, measured.device_key), timeout=60, limits=LIMITS
        ) as device,
        httpx.AsyncClient(
            base_url=base, auth=DeviceAuth(backlog.device_id, backlog.device_key), timeout=60, limits=LIMITS
        ) as far,
    ):
        # The backlog: cases waiting in another municipality that has no officer online.
        for start in range(0, backlog_size, 25):
            ids = await asyncio.gather(
                *(
                    queue_case(far, backlog.municipality_code)
                    for _ in range(start, min(backlog_size, start + 25))
                )
            )
            await asyncio.gather(*(far.post(f"/api/v1/cases/{i}/request-verification", json={}) for i in ids))
        consoles = []
        for i in range(officers):
            token = (
                await device.post(
                    "/api/v1/auth/login", json={"username": f"bench-officer-{i}", "password": PASSWORD}
                )
            ).json()["access_token"]
            consoles.append(
                httpx.AsyncClient(
                    base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60, limits=LIMITS
                )
            )
        try:
            for console in consoles:
                (
                    await console.put("/api/v1/officers/me/presence", json={"status": "available"})
                ).raise_for_status()
            # Each console keeps one long-poll open, as the real console does; only the console that got the
            # offer answers it (declines, to stay free) and polls again.
            arrivals: asyncio.Queue[tuple[float, int, dict[str, str]]] = asyncio.Queue()

            async def console_loop(index: int) -> None:
                console = consoles[index]
                while True:
                    try:
                        response = await console.get("/api/v1/officers/me/offer", params={"wait": 20})
                    except httpx.TransportError:
                        # As the real console does: a dropped connection is retried, not the end of the console.
                        # (A console that silently stopped polling would hold each offer it gets for the whole
                        # accept timeout: that was the bench's 20 s p99.)
                        await asyncio.sleep(0.2)
                        continue
                    if response.status_code == 200:
                        await arrivals.put((time.perf_counter(), index, response.json()))
                        # The bench withdraws the case at once, so the decline may find the offer already closed.
                        with contextlib.suppress(httpx.TransportError):
                            await console.post(
                                f"/api/v1/offers/{response.json()['id']}/decline", json={"reason": "other"}
                            )
                            await console.put("/api/v1/officers/me/presence", json={"status": "available"})

            async def heartbeats() -> None:
                # The real console heartbeats every few seconds; without it presence goes stale mid-run.
                while True:
                    await asyncio.sleep(10)
                    for console in consoles:
                        with contextlib.suppress(httpx.TransportError):
                            await console.put("/api/v1/officers/me/presence", json={"status": "available"})

            loops = [asyncio.create_task(console_loop(i)) for i in range(len(consoles))]
            loops.append(asyncio.create_task(heartbeats()))
            await asyncio.sleep(1.0)  # every console is waiting
            results: list[Run] = []
            try:
                for number in range(runs):
                    if number:
                        await asyncio.sleep(2.0)  # the previous run's declines and presence updates settle
                    latencies: list[float] = []
                    cpu_before = cpu_seconds(hub_pid)
                    for _ in range(samples):
                        case_id = await queue_case(device, measured.municipality_code)
                        started = time.perf_counter()
                        (
                            await device.post(f"/api/v1/cases/{case_id}/request-verification", json={})
                        ).raise_for_status()
                        while True:
                            arrived, _index, offer = await asyncio.wait_for(arrivals.get(), timeout=30)
                            if offer["case_id"] == case_id:
                                break
                        latencies.append((arrived - started) * 1000)
                        await device.post(
                            f"/api/v1/cases/{case_id}/withdraw", json={"reason_code": "applicant_request"}
                        )
                        await asyncio.sleep(0.05)
                    hub_cpu_ms = (cpu_seconds(hub_pid) - cpu_before) * 1000 / samples
                    load = os.getloadavg()[0]
                    floor = await skip_locked_floor(url, samples=samples, backlog_size=backlog_size)
                    results.append(Run(latencies, floor, hub_cpu_ms, load))
            finally:
                for task in loops:
                    task.cancel()
                await asyncio.gather(*loops, return_exceptions=True)
            return results
        finally:
            for console in consoles:
                await console.aclose()


async def skip_locked_floor(url: str, *, samples: int, backlog_size: int) -> list[float]:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS bench_queue"))
        await conn.execute(
            text("CREATE TABLE bench_queue (id serial PRIMARY KEY, taken boolean NOT NULL DEFAULT false)")
        )
        await conn.execute(
            text("INSERT INTO bench_queue (taken) SELECT false FROM generate_series(1, :n)"),
            {"n": backlog_size},
        )
    latencies: list[float] = []
    for _ in range(samples):
        started = time.perf_counter()
        async with engine.begin() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT id FROM bench_queue WHERE NOT taken ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
                    )
                )
            ).scalar_one()
            await conn.execute(text("UPDATE bench_queue SET taken = true WHERE id = :id"), {"id": row})
        latencies.append((time.perf_counter() - started) * 1000)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE bench_queue SET taken = false WHERE id = :id"), {"id": row})
    await engine.dispose()
    return latencies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def report(args: argparse.Namespace, results: list[Run], load_before: float) -> None:
    """Each run's p50/p99/max beside its own floor; with several runs, the spread of the p50s and p99s."""
    print(
        f"queue: {args.backlog} cases waiting, {args.officers} officers long-polling, {args.samples} samples"
        f" × {len(results)} run(s) (PostgreSQL); {os.cpu_count()} CPUs, load average {load_before:.1f} before,"
        f" {os.getloadavg()[0]:.1f} after (each floor is from its own run)"
    )
    print(f"{'':48} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'load':>5} {'hub CPU ms/sample':>18}")
    for number, run in enumerate(results, 1):
        for label, values, cpu in (
            (f"run {number}: clerk request → offer on a console", run.hub_ms, f"{run.hub_cpu_ms:18.1f}"),
            (f"run {number}: bare SKIP LOCKED claim (floor)", run.floor_ms, ""),
        ):
            print(
                f"{label:48} {statistics.median(values):8.1f} {pct(values, 0.99):8.1f} {max(values):8.1f}"
                f" {run.load:5.1f} {cpu}"
            )
    if len(results) > 1:
        print(f"{'over the runs (min / median / max)':48}")
        for label, picks in (
            ("hub p50", [statistics.median(r.hub_ms) for r in results]),
            ("hub p99", [pct(r.hub_ms, 0.99) for r in results]),
            ("floor p99", [pct(r.floor_ms, 0.99) for r in results]),
            ("hub CPU ms/sample", [r.hub_cpu_ms for r in results]),
        ):
            print(f"  {label:46} {min(picks):8.1f} {statistics.median(picks):8.1f} {max(picks):8.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--officers", type=int, default=50)
    parser.add_argument("--backlog", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1, help="measure the seeded hub this many times")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    name, url = asyncio.run(fresh_database())
    tmp = Path(tempfile.mkdtemp(prefix="madoguchi-bench-queue-"))
    try:
        measured, backlog = asyncio.run(seed(url, args.officers, tmp / "seed"))
        port = free_port()
        env = {
            **os.environ,
            "HUB_DATABASE_URL": url,
            "HUB_DATA_DIR": str(tmp / "hub"),
            "HUB_ENVIRONMENT": "test",
            "HUB_OFFICER_WRAPUP_SECONDS": "0",
            # Fifty consoles log in from one address within a second; lift the login brake for the bench only.
            "HUB_LOGIN_RATE_BURST": "1000",
        }
        hub = subprocess.Popen(  # noqa: S603  (our own console script)
            [str(Path(sys.executable).parent / "hub"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            results = asyncio.run(
                hub_round(
                    base,
                    url,
                    hub.pid,
                    measured,
                    backlog,
                    samples=args.samples,
                    officers=args.officers,
                    backlog_size=args.backlog,
                    runs=args.runs,
                )
            )
        finally:
            hub.send_signal(signal.SIGINT)
            try:
                hub.wait(timeout=30)
            except subprocess.TimeoutExpired:
                hub.kill()
                hub.wait()
    finally:
        asyncio.run(drop_database(name))
    report(args, results, load_before)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
