"""Signaling bus load: frames/s and latency between two hub replicas' buses, for each bus backend.

Two bus instances in this process stand for two replicas (the floor: no sockets, no relay, only the bus). Every
room is subscribed on both, as when a clerk is on replica A and the officer on replica B; A publishes, B's
subscription receives. Per backend and room count, two phases:
- fixed load: `--rate` frames/s in total, spread over the rooms; p50/p99 of publish → delivery on the other bus;
- saturation: `--publishers` tasks publish back to back for `--seconds`; frames delivered on B per second, and
  their p99 (queueing included).
The room count matters for PostgreSQL: each replica LISTENs on one channel per room, and a listening backend
matches every notification of the database against its channel list.

Baselines in the same run: the in-process MemoryBus (the bus's own cost, no network), and for PostgreSQL the
round trips per second of a bare `SELECT 1` on one asyncpg connection (the NOTIFY connection sends one statement
per frame, one at a time). The NATS row needs `nats-server` on PATH (started here on a free port, stopped by PID).

    .venv/bin/python -m bench.bus_load [--rooms 100,10000] [--seconds 5] [--rate 500] [--frame-bytes 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import asyncpg  # type: ignore[import-untyped]

from service.signaling.bus import MemoryBus, PostgresBus, asyncpg_dsn
from service.signaling.nats_bus import NatsBus
from tests._procs import free_port, stop

PG_URL: Final = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
# The budget of one fixed-load phase's deliveries: frames still missing after it count as lost.
DRAIN_S: Final = 5.0


@dataclass
class Receiver:
    """B's side: the latency of every frame received (the send time travels in the frame)."""

    latencies: list[float] = field(default_factory=list)
    received: int = 0

    def handler(self, frame: str) -> None:
        self.received += 1
        self.latencies.append(time.perf_counter() - float(frame.split("|", 1)[0]))


@dataclass
class Row:
    backend: str
    rooms: int
    fixed_rate: float
    fixed_p50_ms: float
    fixed_p99_ms: float
    fixed_lost: int
    saturated_fps: float
    saturated_p99_ms: float


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def _frame(size: int) -> str:
    return f"{time.perf_counter():.9f}|" + "x" * size


async def _wait_for(predicate: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:  # noqa: ASYNC110 - a counter, no event to await
        await asyncio.sleep(0.01)


async def _measure(backend: str, a: MemoryBus, b: MemoryBus, rooms: int, args: argparse.Namespace) -> Row:
    names = [f"case-{i:06d}" for i in range(rooms)]
    receiver = Receiver()
    for name in names:
        await a.subscribe(name, lambda _frame: None)
        await b.subscribe(name, receiver.handler)
    # Warm-up: one frame through every connection before timing.
    await a.publish(names[0], _frame(10))
    await _wait_for(lambda: receiver.received >= 1, 10)
    # Fixed load: ticks of 10 ms, each sending its share of the rate.
    receiver.latencies.clear()
    receiver.received = 0
    sent = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < args.seconds:
        due = int(elapsed * args.rate) - sent
        for _ in range(due):
            await a.publish(names[sent % rooms], _frame(args.frame_bytes))
            sent += 1
        await asyncio.sleep(0.01)
    await _wait_for(lambda: receiver.received >= sent, DRAIN_S)
    fixed = list(receiver.latencies)
    fixed_rate = sent / args.seconds
    lost = sent - receiver.received
    # Saturation: publishers back to back for the window; B's deliveries until it has them all, per second.
    receiver.latencies.clear()
    receiver.received = 0
    stop_at = time.perf_counter() + args.seconds

    async def publisher(index: int) -> int:
        count = 0
        while time.perf_counter() < stop_at:
            await a.publish(names[(index + count * args.publishers) % rooms], _frame(args.frame_bytes))
            count += 1
        return count

    counts = await asyncio.gather(*(publisher(i) for i in range(args.publishers)))
    published = sum(counts)
    await _wait_for(lambda: receiver.received >= published, DRAIN_S * 4)
    drained = time.perf_counter()
    saturated = receiver.received / (drained - (stop_at - args.seconds))
    return Row(
        backend,
        rooms,
        fixed_rate,
        _pct(fixed, 0.5),
        _pct(fixed, 0.99),
        lost,
        saturated,
        _pct(receiver.latencies, 0.99),
    )


@contextlib.asynccontextmanager
async def _pair(make: Callable[[], MemoryBus]) -> AsyncIterator[tuple[MemoryBus, MemoryBus]]:
    a, b = make(), make()
    await a.start()
    await b.start()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def _select1_rate(seconds: float) -> float:
    conn = await asyncpg.connect(asyncpg_dsn(PG_URL))
    try:
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            await conn.execute("SELECT 1")
            done += 1
        return done / (time.perf_counter() - started)
    finally:
        await conn.close()


def _start_nats() -> tuple[subprocess.Popen[bytes], str] | None:
    binary = shutil.which("nats-server")
    if binary is None:
        return None
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - nats-server from PATH, fixed arguments
        [binary, "-a", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return proc, f"nats://127.0.0.1:{port}"


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def main(args: argparse.Namespace) -> None:
    room_counts = [int(r) for r in args.rooms.split(",")]
    print(f"bus load: two buses in one process, {args.frame_bytes}-byte frames, {args.seconds:g} s phases")
    print(f"load average before: {_loadavg()}  (cores: {os.cpu_count()})")
    rows: list[Row] = []
    baseline = await _select1_rate(args.seconds)
    print(f"baseline: bare asyncpg `SELECT 1` round trips on one connection: {baseline:,.0f}/s")
    nats = _start_nats()
    try:
        backends: list[tuple[str, Callable[[], MemoryBus]]] = [
            ("memory (floor)", MemoryBus),
            ("postgres", lambda: PostgresBus(asyncpg_dsn(PG_URL))),
        ]
        if nats is not None:
            url = nats[1]
            backends.append(("nats", lambda: NatsBus(url)))
        else:
            print("nats-server not on PATH: no NATS row")
        for name, make in backends:
            for rooms in room_counts:
                if name.startswith("memory"):
                    # One bus is both replicas: the in-process delivery path alone.
                    bus = make()
                    await bus.start()
                    try:
                        rows.append(await _measure(name, bus, bus, rooms, args))
                    finally:
                        await bus.close()
                    continue
                async with _pair(make) as (a, b):
                    rows.append(await _measure(name, a, b, rooms, args))
                print(f"  done: {name} × {rooms} rooms", flush=True)
    finally:
        if nats is not None:
            stop(nats[0])
    print()
    print(
        f"{'backend':<16}{'rooms':>7}{'fixed/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'lost':>6}"
        f"{'saturated frames/s':>20}{'p99 ms':>9}"
    )
    for r in rows:
        print(
            f"{r.backend:<16}{r.rooms:>7}{r.fixed_rate:>9.0f}{r.fixed_p50_ms:>9.2f}{r.fixed_p99_ms:>9.2f}"
            f"{r.fixed_lost:>6}{r.saturated_fps:>20,.0f}{r.saturated_p99_ms:>9.1f}"
        )
    print(f"load average after: {_loadavg()}")
    medians = {
        r.backend: statistics.median([x.saturated_fps for x in rows if x.backend == r.backend]) for r in rows
    }
    print("median saturated frames/s: " + ", ".join(f"{k} {v:,.0f}" for k, v in medians.items()))


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rooms", default="100,10000", help="room counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=500.0, help="fixed-load frames per second in total")
    parser.add_argument("--publishers", type=int, default=32, help="concurrent publishers when saturating")
    parser.add_argument(
        "--frame-bytes", type=int, default=300, help="an ICE candidate frame is about 300 bytes"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(_parse()))
