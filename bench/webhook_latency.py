"""Webhook delivery latency: commit of a case transition → the receiver has the signed request (p50/p99).

The hub's app (outbox worker included) runs in this process on a fresh database; each sample opens a case and
withdraws it in its own transaction, and the clock runs from that commit to the receiver's first byte of the
request. The baseline is a bare httpx POST loop of the same body to the same loopback receiver, measured in each run
right after the hub's samples, so drift on a shared machine hits both alike. Besides wall-clock, each sample notes the
process's CPU time over the same window (the receiver's share is in both rows): on a loaded machine the wall-clock
figures stretch with the wait for a CPU, the CPU figures much less. With --runs N the summary gives min/median/max of
the runs' medians; the load average is printed at the start and the end.

    .venv/bin/python bench/webhook_latency.py [--samples 200] [--runs 3] [--database-url postgresql+asyncpg://…]

The database must be empty (the bench does not wipe it): `createdb -h 127.0.0.1 -U postgres hw_bench`, drop it after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HUB_ARGON2_TIME_COST", "1")
os.environ.setdefault("HUB_ARGON2_MEMORY_KIB", "1024")

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from service import migrate  # noqa: E402
from service.accounts.roles import Principal, PrincipalKind  # noqa: E402
from service.app import create_app  # noqa: E402
from service.cases import service as case_service  # noqa: E402
from service.cases.lifecycle import Action  # noqa: E402
from service.config import Environment, Settings  # noqa: E402
from service.db import create_engine, unit_of_work  # noqa: E402
from service.kit.egress_http import PinnedTransport  # noqa: E402
from service.tenancy.codes import Procedure  # noqa: E402
from tests.factories import make_tenant  # noqa: E402
from tests.service.integrations.conftest import subscribe, webhook_key  # noqa: E402


class Arrivals:
    """A loopback receiver that notes when each request arrived (by case id or a bench marker)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.cpu_at: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Event] = {}

    def expect(self, key: str) -> asyncio.Event:
        self.waiters[key] = asyncio.Event()
        return self.waiters[key]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        arrived, cpu = time.perf_counter(), time.process_time()
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        for key, event in list(self.waiters.items()):
            if key.encode() in body:
                self.at[key] = arrived
                self.cpu_at[key] = cpu
                event.set()
                del self.waiters[key]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Row:
    """One row's samples of one run: wall-clock and the process's CPU time, commit (or POST) → arrival."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def report(name: str, row: Row) -> None:
    ms = [s * 1000 for s in row.wall]
    print(
        f"  {name:<38} n={len(ms):<4} p50={percentile(ms, 0.5):7.2f} ms  p99={percentile(ms, 0.99):7.2f} ms  "
        f"max={max(ms):7.2f} ms  cpu p50={1000 * percentile(row.cpu, 0.5):6.2f} ms"
    )


def spread(name: str, values: list[float]) -> None:
    print(
        f"  {name:<38} min={min(values):7.2f}  median={statistics.median(values):7.2f}  max={max(values):7.2f} ms"
    )


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


async def run(samples: int, runs: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        engine = create_engine(url)
        await migrate.upgrade(engine)
        await engine.dispose()
        settings = Settings(
            environment=Environment.test,
            database_url=url,
            data_dir=Path(tmp) / "hub",
            outbox_worker="on",
            jlis_adapter="off",
            webhook_allowed_destinations=["127.0.0.1"],  # the receiver listens on loopback
        )
        arrivals = Arrivals()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        receiver_url = f"http://127.0.0.1:{sock.getsockname()[1]}/hooks"
        server = uvicorn.Server(uvicorn.Config(arrivals, log_level="warning", lifespan="off", ws="none"))
        server_task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 — uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        app = create_app(settings)
        try:
            async with app.router.lifespan_context(app):
                sessionmaker = app.state.sessionmaker
                tenant = await make_tenant(
                    sessionmaker, settings, prefix="99001", name="甲市", office_code="99101"
                )
                hooks = await webhook_key(sessionmaker, tenant)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://hub.bench") as api:
                    await subscribe(api, hooks, receiver_url, ["case.closed"])
                device = Principal(
                    kind=PrincipalKind.device, id=tenant.device_id, post_office_id=tenant.post_office_id
                )
                tz = ZoneInfo(settings.timezone)

                async def hub_row() -> Row:
                    row = Row()
                    for index in range(samples + 10):
                        async with unit_of_work(sessionmaker) as session:
                            case = await case_service.create(
                                session,
                                principal=device,
                                municipality_code=tenant.municipality_code,
                                procedure=Procedure.pin_reset,
                                shinseisho_id=None,
                                tz=tz,
                            )
                        arrived = arrivals.expect(case.id)
                        async with unit_of_work(sessionmaker) as session:
                            await case_service.act(
                                session,
                                principal=device,
                                case=await case_service.get_for(session, principal=device, case_id=case.id),
                                action=Action.withdraw,
                                reason_code="applicant_request",
                                attested=False,
                                expected_version=None,
                                answers=None,
                                settings=settings,
                            )
                        committed, cpu = time.perf_counter(), time.process_time()
                        await asyncio.wait_for(arrived.wait(), 30)
                        if index >= 10:  # warm-up
                            row.wall.append(arrivals.at[case.id] - committed)
                            row.cpu.append(arrivals.cpu_at[case.id] - cpu)
                    return row

                body = b'{"data":{"case_id":"%s"},"padding":"' + b"x" * 300 + b'"}'

                async def bare_row(client: httpx.AsyncClient, run: int) -> Row:
                    row = Row()
                    for index in range(samples + 10):
                        key = f"bare_{run:03d}_{index:06d}"
                        arrived = arrivals.expect(key)
                        start, cpu = time.perf_counter(), time.process_time()
                        await client.post(receiver_url, content=body.replace(b"%s", key.encode()))
                        await asyncio.wait_for(arrived.wait(), 30)
                        if index >= 10:
                            row.wall.append(arrivals.at[key] - start)
                            row.cpu.append(arrivals.cpu_at[key] - cpu)
                    return row

                backend = "postgresql" if url.startswith("postgresql") else "sqlite"
                print(
                    f"webhook latency, commit → receiver ({backend}, loopback, sequential, {samples} samples × {runs} "
                    f"runs); {os.cpu_count()} CPUs, load average {load()} at the start"
                )
                webhooks = app.state.integrations.http._transport  # the hub's webhook transport
                connects = webhooks.pool.connects if isinstance(webhooks, PinnedTransport) else 0
                hub_p50: list[float] = []
                bare_p50: list[float] = []
                hub_cpu: list[float] = []
                bare_cpu: list[float] = []
                async with httpx.AsyncClient() as client:
                    for run in range(runs):
                        hub = await hub_row()
                        bare = await bare_row(client, run)
                        print(f"run {run + 1} (load average {load()})")
                        report("hub: commit → signed request arrives", hub)
                        report("baseline: bare httpx POST → arrives", bare)
                        hub_p50.append(1000 * percentile(hub.wall, 0.5))
                        bare_p50.append(1000 * percentile(bare.wall, 0.5))
                        hub_cpu.append(1000 * percentile(hub.cpu, 0.5))
                        bare_cpu.append(1000 * percentile(bare.cpu, 0.5))
                if isinstance(webhooks, PinnedTransport):
                    connects = webhooks.pool.connects - connects
                print(f"over {runs} runs (each row: the runs' p50s), load average {load()} at the end")
                spread("hub p50", hub_p50)
                spread("baseline p50", bare_p50)
                spread(
                    "overhead p50 (hub − baseline)", [h - b for h, b in zip(hub_p50, bare_p50, strict=True)]
                )
                spread("hub CPU p50", hub_cpu)
                spread("baseline CPU p50", bare_cpu)
                print(f"  webhook connections opened: {connects} for {runs * (samples + 10)} deliveries")
        finally:
            server.should_exit = True
            await server_task
            sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="samples per row and run")
    parser.add_argument("--runs", type=int, default=3, help="runs, each the hub's row then the baseline's")
    parser.add_argument(
        "--database-url", default=None, help="an empty database (default: a temporary SQLite)"
    )
    args = parser.parse_args()
    asyncio.run(run(args.samples, args.runs, args.database_url))


if __name__ == "__main__":
    main()
