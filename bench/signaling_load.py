"""Signaling relay load: many concurrent rooms through one hub process, beside a bare uvicorn WebSocket relay.

Each room is two sockets (clerk and officer). Two phases per room count and per server:
- fixed load: every room sends `--rate` frames per second (directions alternate); p50/p99 of the relay
  latency (send → the other socket receives, both ends in this process) and the server's CPU-seconds per second;
- saturation: every room ping-pongs as fast as it can for the window; frames relayed per second.

The hub row is `service/signaling` (SignalingHub, in-process bus, validation, renumbering, re-encoding) under
uvicorn in a child process. Its join re-check against the database is replaced by "admit": a join is not part
of the relay path, and the bench needs no 2,000 cases. Tickets are minted here with the child's secret.
The bare row is a raw ASGI app that forwards text frames to the room's other socket, unvalidated.
Both servers listen on 127.0.0.1 only; the client runs in this process (on this 2-core machine it competes
with the server, so it is reported too).

With `--across postgres,nats`, each level also runs on two hub replicas sharing that bus, the clerk of every room
on one and the officer on the other (peers on different replicas), beside the one-hub row of the same level.

Every row also gives the server's CPU-seconds per relayed frame in each phase (from /proc, what a shared machine
disturbs least); `--runs N` runs hub and bare back to back N times and prints the medians' ratios with the load
average. The saturated frames/s depend on the load client too (it shares the cores), so the server-bound capacity
(frames per server CPU-second at saturation) is printed beside them.

    .venv/bin/python -m bench.signaling_load [--rooms 100,500,2000] [--seconds 5] [--rate 2] [--runs 3]
        [--profile /tmp/relay.txt] [--across postgres,nats]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import parse_qs

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from service.signaling.tickets import ParticipantRole, TicketClaims, issue_ticket, new_nonce
from service.wire.signaling import CandidateMessage, JoinMessage, SeqCounter, encode
from tests._procs import stop

MAX_ROOMS: Final = 2000
ROOT: Final = Path(__file__).resolve().parent.parent
Receive = Callable[[], Awaitable[dict[str, object]]]
Send = Callable[[dict[str, object]], Awaitable[None]]


# --- servers (run in child processes) ------------------------------------------------------------------


class BareRelay:
    """The floor: accept, then forward each text frame to the room's other socket."""

    def __init__(self) -> None:
        self.rooms: dict[str, list[Send]] = {}

    async def __call__(self, scope: dict[str, object], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "websocket":
            return
        query = parse_qs(cast(bytes, scope["query_string"]).decode())
        room = query["room"][0]
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        peers = self.rooms.setdefault(room, [])
        peers.append(send)
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                for other in peers:
                    if other is not send:
                        await other({"type": "websocket.send", "text": message.get("text")})
        finally:
            peers.remove(send)
            if not peers:
                self.rooms.pop(room, None)


def hub_app(secret: bytes, bus_kind: str = "memory", bus_url: str = "") -> object:
    """The hub's signaling router and SignalingHub on a bus (in-process by default), without a database."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    from service.app import BodySizeLimit
    from service.security import SecurityHeaders
    from service.signaling.bus import MemoryBus, PostgresBus
    from service.signaling.nats_bus import NatsBus
    from service.signaling.participants import HubConfig
    from service.signaling.rooms import SignalingHub
    from service.signaling.router import SignalingSocketPath, router

    async def admit(_claims: TicketClaims) -> bool:
        return True

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bus = (
            PostgresBus(bus_url)
            if bus_kind == "postgres"
            else NatsBus(bus_url)
            if bus_kind == "nats"
            else MemoryBus()
        )
        await bus.start()
        # The per-connection rate limit is a policy against floods, not capacity: lifted so the saturation
        # phase measures the relay (the fixed phase stays far below the production limit of 20/s anyway).
        # Heartbeats at their longest: opening 4,000 sockets on a busy machine can outlast the default
        # 2 × 15 s of silence, and this load client sends no heartbeats of its own.
        hub = SignalingHub(
            HubConfig(
                secret=secret, heartbeat_s=300.0, rate_per_s=1e6, rate_burst=1_000_000, outbox_limit=1024
            ),
            bus=bus,
            authorize=admit,
            ice_for=lambda _principal: [],
        )
        app.state.signaling = hub
        yield
        await hub.close()
        await bus.close()

    app = FastAPI(lifespan=lifespan)
    # The production app's middleware, in its order (service/app.py): the socket path is the outermost.
    app.add_middleware(BodySizeLimit, max_bytes=1_000_000, upload_max_bytes=8_000_000)
    app.add_middleware(SecurityHeaders)
    if os.environ.get("BENCH_SIGNALING_SLOW_PATH") != "1":
        app.add_middleware(SignalingSocketPath)
    app.include_router(router)
    return app


def serve(kind: str, port: int, secret: str) -> None:
    """Run one server until SIGTERM."""
    import uvicorn

    from service.cli import freeze_startup_heap
    from service.signaling.ws_server import uvicorn_ws_options

    # "hub-postgres" / "hub-nats": one of two replicas sharing that bus (BENCH_BUS_URL names it).
    bus_kind = kind.removeprefix("hub-") if kind.startswith("hub-") else "memory"
    is_hub = kind.startswith("hub")
    app = hub_app(secret.encode(), bus_kind, os.environ.get("BENCH_BUS_URL", "")) if is_hub else BareRelay()
    # The hub runs on its own WebSocket protocol (websockets-sansio with a pre-join cap), as `hub serve` does; the
    # bare relay on the same uvicorn protocol and options (no permessage-deflate either), so the row apart is
    # the hub's own work.
    ws_options: dict[str, Any] = (
        uvicorn_ws_options() if is_hub else {"ws": "websockets-sansio", "ws_per_message_deflate": False}
    )
    # As `hub serve` does once started (service/cli.py freeze_startup_heap), for both servers alike: what is
    # alive now (imports, the app) stays out of later full collections.
    freeze_startup_heap()
    uvicorn.run(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_ping_interval=None,
        backlog=4096,
        **ws_options,
    )


# --- the load client ------------------------------------------------------------------------------------


@dataclass
class Side:
    """One socket of a room, with its own outgoing numbering."""

    ws: ClientConnection
    seq: SeqCounter = field(default_factory=SeqCounter)


@dataclass
class Room:
    """Two sockets relaying through the server."""

    name: str
    clerk: Side
    officer: Side


@dataclass
class Tally:
    """Latencies and counts of the current window."""

    measuring: bool = False
    latencies_ms: list[float] = field(default_factory=list)
    delivered: int = 0
    echo: bool = False
    stopping: bool = False
    closed: int = 0


def _frame(room: str, side: Side) -> str:
    # The send time rides in the frame: both ends live in this process, so one clock measures the relay. A
    # candidate, because both roles may send one (the hub refuses a frame type of the other role).
    return encode(
        CandidateMessage(
            seq=side.seq.next(), room=room, candidate=str(time.perf_counter_ns()), sdp_mline_index=0
        )
    )


async def _open(kind: str, port: int, secret: bytes, name: str, role: ParticipantRole) -> Side:
    if kind.startswith("hub"):
        claims = TicketClaims(
            name, role, "account", f"bench_{role}", None, None, int(time.time()) + 300, new_nonce()
        )
        ws = await connect(
            f"ws://127.0.0.1:{port}/api/v1/signaling?ticket={issue_ticket(secret, claims)}",
            ping_interval=None,
            open_timeout=30,
        )
        side = Side(ws)
        await ws.send(encode(JoinMessage(seq=side.seq.next(), room=name, role=role)))
        joined = json.loads(await ws.recv())
        if joined["type"] != "joined":
            raise RuntimeError(f"join refused: {joined}")
        return side
    return Side(
        await connect(f"ws://127.0.0.1:{port}/relay?room={name}", ping_interval=None, open_timeout=30)
    )


async def _read(room: Room, me: Side, tally: Tally) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for raw in me.ws:
            message = json.loads(raw)
            if message.get("type") != "candidate":
                continue  # the hub's joined presence updates and heartbeats
            if tally.measuring:
                tally.latencies_ms.append((time.perf_counter_ns() - int(message["candidate"])) / 1e6)
                tally.delivered += 1
            if tally.echo:
                await me.ws.send(_frame(room.name, me))
    if not tally.stopping:
        tally.closed += 1  # the server closed this socket mid-run: the row is not comparable


async def _fixed_rate(room: Room, rate: float, stop: asyncio.Event) -> None:
    interval = 1.0 / rate
    await asyncio.sleep(secrets.randbelow(1000) / 1000 * interval)  # spread the rooms over the interval
    sides = (room.clerk, room.officer)
    turn = 0
    with contextlib.suppress(ConnectionClosed):
        while not stop.is_set():
            side = sides[turn % 2]
            await side.ws.send(_frame(room.name, side))
            turn += 1
            await asyncio.sleep(interval)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    """One line of the result table."""

    server: str
    rooms: int
    p50_ms: float
    p99_ms: float
    fixed_per_s: float
    server_cpu: float
    client_cpu: float
    saturated_per_s: float
    setup_s: float
    closed_early: int
    # Server CPU-seconds per relayed frame (µs), in each phase: what a shared machine disturbs least.
    fixed_us_per_frame: float = float("nan")
    saturated_us_per_frame: float = float("nan")
    saturated_server_cpu: float = float("nan")
    load: float = float("nan")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _server(kind: str, secret: str, bus_url: str = "") -> Iterator[tuple[int, int]]:
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 — this very module with fixed arguments
        [
            sys.executable,
            "-m",
            "bench.signaling_load",
            "--serve",
            kind,
            "--port",
            str(port),
            # One argument with `=`: a urlsafe secret may begin with "-", which argparse took for an option (the
            # child then exited 2 and the run stopped).
            f"--secret={secret}",
        ],
        cwd=ROOT,
        env={**os.environ, "BENCH_BUS_URL": bus_url},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} server did not start (exit code {proc.poll()})")
            time.sleep(0.05)
        yield port, proc.pid
    finally:
        stop(proc, grace_s=20)


async def _profile(pid: int, window_s: float, out: Path) -> None:
    """Sample the server child with py-spy for the window, without pausing it (raw collapsed stacks).

    BENCH_PROFILE_NATIVE=1 adds C frames (uvloop, pydantic-core, the kernel calls), which py-spy otherwise
    counts as the Python frame that entered them (`Runner.run` for the event loop itself); py-spy then pauses
    the child for each sample, so that run's figures are not comparable.
    """
    native = ["--native"] if os.environ.get("BENCH_PROFILE_NATIVE") == "1" else ["--nonblocking"]
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():  # noqa: ASYNC240 - once, before the window
        raise SystemExit("--profile needs py-spy (the dev extra)")
    sampler = await asyncio.create_subprocess_exec(
        *[spy, "record", *native, "--format", "raw", "--rate", "250"],
        *["--duration", str(max(1, int(window_s))), "--pid", str(pid), "-o", str(out)],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await sampler.wait()


async def run_level(
    kind: str,
    ports: tuple[int, int],
    pids: list[int],
    secret: bytes,
    rooms: int,
    seconds: float,
    rate: float,
    profile: Path | None = None,
) -> Row:
    """Open `rooms` rooms (clerk on the first server, officer on the second), run both phases, close everything."""
    gate = asyncio.Semaphore(128)  # bounded concurrent handshakes, so the backlog never overflows
    prefix = secrets.token_hex(4)

    async def open_room(i: int) -> Room:
        name = f"case_bench{prefix}{i:05d}"
        async with gate:
            clerk = await _open(kind, ports[0], secret, name, "clerk")
            officer = await _open(kind, ports[1], secret, name, "officer")
        return Room(name, clerk, officer)

    setup_started = time.perf_counter()
    opened = await asyncio.gather(*(open_room(i) for i in range(rooms)))
    setup_s = time.perf_counter() - setup_started
    tally = Tally()
    readers = [
        asyncio.create_task(_read(room, me, tally)) for room in opened for me in (room.clerk, room.officer)
    ]
    # The client is the instrument: a full collection of its 4,000 sockets' objects stopped its loop for
    # 0.1-2 s at 2,000 rooms and counted as relay latency of whichever server was measured. Frozen for the level.
    gc.collect()
    gc.freeze()
    try:
        stop = asyncio.Event()
        senders = [asyncio.create_task(_fixed_rate(room, rate, stop)) for room in opened]
        await asyncio.sleep(1.0)  # warm-up: every room has started sending
        cpu0, mine0, t0 = sum(map(_cpu_seconds, pids)), time.process_time(), time.perf_counter()
        tally.measuring = True
        await asyncio.sleep(seconds)
        tally.measuring = False
        wall = time.perf_counter() - t0
        server_cpu = (sum(map(_cpu_seconds, pids)) - cpu0) / wall
        client_cpu = (time.process_time() - mine0) / wall
        stop.set()
        await asyncio.gather(*senders)
        latencies = sorted(tally.latencies_ms)
        fixed = tally.delivered / wall
        p50 = statistics.median(latencies) if latencies else float("nan")
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")

        # Saturation: each room's officer echoes, and one frame per room starts the ping-pong.
        await asyncio.sleep(0.5)
        tally.latencies_ms.clear()
        tally.delivered = 0
        tally.echo = True
        for room in opened:
            await room.clerk.ws.send(_frame(room.name, room.clerk))
        await asyncio.sleep(0.5)
        if profile is not None:
            sampler = asyncio.create_task(_profile(pids[0], seconds, profile))
        cpu1, t1 = sum(map(_cpu_seconds, pids)), time.perf_counter()
        tally.measuring = True
        await asyncio.sleep(seconds)
        tally.measuring = False
        wall1 = time.perf_counter() - t1
        saturated_cpu = sum(map(_cpu_seconds, pids)) - cpu1
        saturated = tally.delivered / wall1
        saturated_frames = tally.delivered
        tally.echo = False
        if profile is not None:
            await sampler
    finally:
        tally.stopping = True
        await asyncio.gather(
            *(side.ws.close() for room in opened for side in (room.clerk, room.officer)),
            return_exceptions=True,
        )
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        gc.unfreeze()  # this level's rooms may be collected now
    fixed_frames = fixed * wall
    return Row(
        kind,
        rooms,
        p50,
        p99,
        fixed,
        server_cpu,
        client_cpu,
        saturated,
        setup_s,
        tally.closed,
        fixed_us_per_frame=server_cpu * wall / fixed_frames * 1e6 if fixed_frames else float("nan"),
        saturated_us_per_frame=saturated_cpu / saturated_frames * 1e6 if saturated_frames else float("nan"),
        saturated_server_cpu=saturated_cpu / wall1,
        load=os.getloadavg()[0],
    )


async def bench(
    levels: list[int],
    seconds: float,
    rate: float,
    cross: list[tuple[str, str]],
    *,
    runs: int = 1,
    profile: Path | None = None,
) -> list[Row]:
    """Every level on the hub, then on the bare relay, then on each pair of replicas sharing a bus in `cross`
    (each server is a fresh child per level); `runs` times over, interleaved, so drift on a shared machine hits
    hub and bare alike. `profile` samples the first saturation window of each at the last level."""
    rows: list[Row] = []
    for rooms in levels:
        for run in range(runs):
            for kind in ("hub", "bare"):
                secret = secrets.token_urlsafe(24)
                sample = (
                    profile.with_stem(f"{profile.stem}-{kind}")
                    if profile is not None and run == 0 and rooms == levels[-1]
                    else None
                )
                with _server(kind, secret) as (port, pid):
                    rows.append(
                        await run_level(
                            kind, (port, port), [pid], secret.encode(), rooms, seconds, rate, sample
                        )
                    )
                print(_format(rows[-1]), flush=True)
            for kind, url in cross:
                secret = secrets.token_urlsafe(24)
                with _server(kind, secret, url) as (port1, pid1), _server(kind, secret, url) as (port2, pid2):
                    rows.append(
                        await run_level(
                            kind, (port1, port2), [pid1, pid2], secret.encode(), rooms, seconds, rate
                        )
                    )
                print(_format(rows[-1]), flush=True)
    return rows


def _format(row: Row) -> str:
    return (
        f"{row.server:>12} {row.rooms:>5} rooms | p50 {row.p50_ms:7.2f} ms  p99 {row.p99_ms:7.2f} ms"
        f" | fixed {row.fixed_per_s:6.0f}/s  server {row.server_cpu:4.2f} s/s {row.fixed_us_per_frame:5.1f} µs/frame"
        f"  client {row.client_cpu:4.2f} s/s"
        f" | saturated {row.saturated_per_s:6.0f}/s  server {row.saturated_server_cpu:4.2f} s/s"
        f" {row.saturated_us_per_frame:5.1f} µs/frame | setup {row.setup_s:4.1f} s | load {row.load:.1f}"
        + (f" | {row.closed_early} sockets closed early" if row.closed_early else "")
    )


def _median(rows: list[Row], value: Callable[[Row], float]) -> float:
    return statistics.median(value(row) for row in rows)


def summary(rows: list[Row], levels: list[int], cross: list[tuple[str, str]]) -> list[str]:
    """The hub divided by the bare relay of the same runs (medians over the runs) at each level.

    The saturated frames/s ratio depends on the load client too (it shares the 2 cores and runs Python per
    frame), so the server-bound capacity — frames per server CPU-second at saturation — is printed beside it:
    it is what one core of each server would relay, whatever else the machine did meanwhile.
    """
    lines = []
    for rooms in levels:
        hub = [r for r in rows if r.server == "hub" and r.rooms == rooms]
        bare = [r for r in rows if r.server == "bare" and r.rooms == rooms]
        if not hub or not bare:
            continue

        def ratio(value: Callable[[Row], float], hub: list[Row] = hub, bare: list[Row] = bare) -> float:
            below = _median(bare, value)
            return _median(hub, value) / below if below else float("nan")

        loads = [r.load for r in hub + bare]
        lines.append(
            f"{rooms:>5} rooms, hub ÷ bare (median of {len(hub)}; load average {min(loads):.1f}–{max(loads):.1f}):"
            f" p99 {_median(hub, lambda r: r.p99_ms):.1f} vs {_median(bare, lambda r: r.p99_ms):.1f} ms,"
            f" CPU per frame at {rooms} rooms' fixed load {ratio(lambda r: r.fixed_us_per_frame):4.2f}×"
            f" (server CPU {ratio(lambda r: r.server_cpu):4.2f}×),"
            f" saturated frames/s {ratio(lambda r: r.saturated_per_s):4.2f}×,"
            f" server-bound capacity {ratio(lambda r: 1 / r.saturated_us_per_frame):4.2f}×"
            f" ({1e6 / _median(hub, lambda r: r.saturated_us_per_frame):,.0f} vs"
            f" {1e6 / _median(bare, lambda r: r.saturated_us_per_frame):,.0f} frames per CPU-second)"
        )
        one_hub = _median(hub, lambda r: r.saturated_per_s)
        for kind, _url in cross:
            across = [r for r in rows if r.server == kind and r.rooms == rooms]
            lines.append(
                f"{rooms:>5} rooms: {kind} across two replicas / one hub saturated throughput "
                f"{_median(across, lambda r: r.saturated_per_s) / one_hub if one_hub else float('nan'):4.2f}×, "
                f"p99 {_median(across, lambda r: r.p99_ms):.1f} ms"
            )
    return lines


@contextlib.contextmanager
def _nats_server() -> Iterator[str]:
    binary = shutil.which("nats-server")
    if binary is None:
        raise SystemExit("--across nats needs nats-server on PATH")
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 — nats-server with fixed arguments
        [binary, "-a", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nats-server did not start")
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        stop(proc)


def main() -> None:
    """Entry point: `python -m bench.signaling_load`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rooms", default="100,500,2000", help="comma-separated room counts (each ≤ 2000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measuring window")
    parser.add_argument(
        "--rate", type=float, default=2.0, help="frames per second per room in the fixed phase"
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="hub and bare back to back this many times per level"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy the first hub's and bare relay's saturation window at the last level (raw stacks, "
        "to PROFILE with -hub and -bare added to its name)",
    )
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument(
        "--across",
        default="",
        help="also two replicas with the clerk on one and the officer on the other, sharing a bus: "
        "comma-separated of postgres (BENCH_PG_DSN, default the local server) and nats (starts nats-server)",
    )
    parser.add_argument(
        "--serve", choices=["hub", "bare", "hub-postgres", "hub-nats"], help=argparse.SUPPRESS
    )
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--secret", help=argparse.SUPPRESS)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * MAX_ROOMS + 1024)), hard))
    if args.serve:
        serve(args.serve, args.port, args.secret)
        return
    levels = [int(n) for n in args.rooms.split(",")]
    if any(n < 1 or n > MAX_ROOMS for n in levels) or not 0.5 <= args.seconds <= 30:
        parser.error(f"room counts must be 1…{MAX_ROOMS} and --seconds 0.5…30")
    print(
        f"signaling relay load on 127.0.0.1, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f};"
        f" window {args.seconds:g} s, {args.rate:g} frames/s/room"
    )
    with contextlib.ExitStack() as stack:
        cross: list[tuple[str, str]] = []
        for name in filter(None, args.across.split(",")):
            if name == "postgres":
                cross.append(
                    (
                        "hub-postgres",
                        os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"),
                    )
                )
            elif name == "nats":
                cross.append(("hub-nats", stack.enter_context(_nats_server())))
            else:
                parser.error(f"--across: unknown bus {name!r}")
        rows = asyncio.run(
            bench(levels, args.seconds, args.rate, cross, runs=args.runs, profile=args.profile)
        )
    for line in summary(rows, levels, cross):
        print(line)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=2))


if __name__ == "__main__":
    main()
