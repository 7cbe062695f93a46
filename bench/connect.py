"""Call setup time and the agent's CPU per call.

Rows (each N fresh calls, interleaved): a bare aiortc pair with SDP handed over directly, and the agent's
peer (`AgentPeer`, camera through MediaRelay, prepared while "the case waits") over the in-memory signaling
channel that passes every frame through the wire codec; for these, time runs from the offer being created to
the first video frame decoded on the far side. The hub rows (bench/connect_hub.py) run the agent's own
`run_call` against a real hub under uvicorn; their time runs from the officer's accept — the officer side
requesting its signaling ticket — to its first decoded frame: an aiortc officer stand-in direct and
relay-only through coturn, and headless Chromium running the console's LiveLink in a network namespace.

The CPU figure runs the agent alone in a child process (so the receiver's decoding is not counted) and
reads its getrusage over a window of 640×480, 30 fps VP8.

    .venv/bin/python -m bench.connect [--calls 20] [--cpu-window 5] [--no-hub] [--skip-cpu]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCRtpSender

from bench.connect_hub import HubBench
from clerk_agent.rtc.call import place_call, take_call
from clerk_agent.rtc.channel import memory_channel_pair
from clerk_agent.rtc.ice import build_configuration
from clerk_agent.rtc.peer import AgentPeer, CallMedia, PeerTimeouts
from clerk_agent.rtc.relay import CameraFeed
from clerk_agent.rtc.sinks import NullSink
from clerk_agent.rtc.sources import SyntheticCamera, ToneMicrophone
from service.wire.signaling import SeqCounter, SignalingMessage, decode, encode

ROOM = "case_bench000000000000000000"
TIMEOUTS = PeerTimeouts(answer_s=5, connect_s=5, first_frame_s=5)
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Scenario:
    """One row: `run_once` performs a fresh call and returns offer-created → first-frame in ms."""

    name: str
    run_once: Callable[[], Awaitable[float]]


async def bare_pair() -> float:
    """Plain aiortc, no wrapper, SDP passed by hand: the floor every other row is compared with."""
    camera = SyntheticCamera(640, 480, 30)
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    first_frame: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    readers: list[asyncio.Task[None]] = []

    async def read(track: MediaStreamTrack) -> None:
        await track.recv()
        if not first_frame.done():
            first_frame.set_result(time.perf_counter())

    receiver.on("track", lambda track: readers.append(asyncio.create_task(read(track))))
    transceiver = sender.addTransceiver(camera, direction="sendonly")
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType in {"video/VP8", "video/rtx"}]
    )
    try:
        started = time.perf_counter()
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        async with asyncio.timeout(5):
            return (await first_frame - started) * 1000
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await sender.close()
        await receiver.close()
        camera.stop()


async def agent_over_wire(*, prepared: bool = True) -> float:
    """AgentPeer → officer stand-in over the in-memory wire channel; `prepared` as in the queue."""
    feed = CameraFeed(SyntheticCamera(640, 480, 30), call_size=(640, 480))
    agent_mic, officer_mic = ToneMicrophone(), ToneMicrophone(660)
    agent = AgentPeer(
        build_configuration([]),
        CallMedia(video=feed.call_track(), audio=agent_mic),
        sink=NullSink(),
        timeouts=TIMEOUTS,
    )
    officer = AgentPeer(
        build_configuration([]),
        CallMedia(audio=officer_mic, receive=frozenset({"audio", "video"})),
        sink=NullSink(),
        timeouts=TIMEOUTS,
    )
    agent_end, officer_end = memory_channel_pair()
    try:
        await officer.prepare(pre_offer=False)
        if prepared:
            await agent.prepare(pre_offer=True)
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            group.create_task(take_call(officer, officer_end, room=ROOM, seq=SeqCounter()))
            group.create_task(place_call(agent, agent_end, room=ROOM, seq=SeqCounter()))
        await officer.wait_first_frame("video")
        return (time.perf_counter() - started) * 1000
    finally:
        await agent.close()
        await officer.close()
        await feed.close()
        agent_mic.stop()
        officer_mic.stop()


SCENARIOS: list[Scenario] = [
    Scenario("bare aiortc pair (no hub)", bare_pair),
    Scenario("agent peer, prepared, in-memory wire", agent_over_wire),
    Scenario("agent peer, cold (prepare on accept)", lambda: agent_over_wire(prepared=False)),
    # Later: "agent ↔ aiortc officer via hub (WS)", "agent ↔ Chromium via hub", "… via TURN".
]


def hub_scenarios(hubs: HubBench) -> list[Scenario]:
    """The rows that need the hub (and, where available, the namespace, Chromium and coturn)."""
    rows = [Scenario("agent run_call ↔ aiortc officer via hub", hubs.aiortc_officer)]
    if hubs.page is not None:
        rows.append(Scenario("agent run_call ↔ Chromium console via hub", hubs.chromium_officer))
    if hubs.relayed is not None:
        rows.append(
            Scenario("agent ↔ aiortc via hub, TURN relay-only", lambda: hubs.aiortc_officer(relayed=True))
        )
    return rows


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def _quiet_close_race(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
    # aiortc 1.16 closes a peer by itself when the far side's DTLS closes; racing our own close() it then
    # fails its own task with InvalidStateError. Harmless after the measurement: not printed.
    if isinstance(context.get("exception"), asyncio.InvalidStateError):
        return
    loop.default_exception_handler(context)


async def measure_setup(calls: int, *, with_hub: bool = True) -> None:
    """Run every scenario `calls` times (interleaved, so drift on a shared machine hits all rows alike)."""
    asyncio.get_running_loop().set_exception_handler(_quiet_close_race)
    async with contextlib.AsyncExitStack() as stack:
        scenarios = list(SCENARIOS)
        if with_hub:
            hubs = await stack.enter_async_context(HubBench())
            for note in hubs.notes:
                print(f"note: {note}")
            scenarios += hub_scenarios(hubs)
        results: dict[str, list[float]] = {s.name: [] for s in scenarios}
        failures: dict[str, list[str]] = {s.name: [] for s in scenarios}
        for s in scenarios:  # one warm-up call each: codec libraries load on first use
            await s.run_once()
        for _ in range(calls):
            for s in scenarios:
                try:
                    results[s.name].append(await s.run_once())
                except Exception as exc:  # a failed call is a figure too: counted, not fatal to the run
                    failures[s.name].append(f"{type(exc).__name__}: {str(exc)[:200]}")
                await asyncio.sleep(0.02)
    print(
        f"call setup → first decoded frame, 640×480 VP8, n={calls} per row;"
        f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (baselines are rows of this run)"
    )
    print(
        "  (first three rows from offer created; hub rows from the officer's accept: ticket, join, offer, answer)"
    )
    print(f"  {'scenario':<44} {'median':>9} {'p95':>9} {'min':>9} {'max':>9} {'failed':>6}")
    for name, values in results.items():
        if not values:
            print(f"  {name:<44} {'—':>9} {'—':>9} {'—':>9} {'—':>9} {len(failures[name]):>6}")
            continue
        print(
            f"  {name:<44} {statistics.median(values):>7.1f}ms {percentile(values, 95):>7.1f}ms"
            f" {min(values):>7.1f}ms {max(values):>7.1f}ms {len(failures[name]):>6}"
        )
    for name, errors in failures.items():
        for error in errors:
            print(f"  failed call, {name}: {error}")
    bare = statistics.median(results[SCENARIOS[0].name])
    for name, values in results.items():
        if "via hub" in name and values:
            print(
                f"  overhead over the bare pair, {name}: {statistics.median(values) - bare:+.1f} ms (median)"
            )


class StreamChannel:
    """Signaling over a TCP stream, one encoded frame per line (the bench's stand-in for the hub socket)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def send(self, msg: SignalingMessage) -> None:
        """Write one frame."""
        self._writer.write(encode(msg).encode() + b"\n")
        await self._writer.drain()

    async def recv(self) -> SignalingMessage:
        """Read one frame."""
        line = await self._reader.readline()
        if not line:
            raise ConnectionError("signaling stream closed")
        return decode(line)


async def cpu_child(port: int, window_s: float) -> None:
    """The agent side of the CPU run: send 640×480 30 fps VP8 and report CPU-seconds per second."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    feed = CameraFeed(SyntheticCamera(640, 480, 30), call_size=(640, 480))
    mic = ToneMicrophone()
    agent = AgentPeer(
        build_configuration([]),
        CallMedia(video=feed.call_track(), audio=mic),
        sink=NullSink(),
        timeouts=TIMEOUTS,
    )
    try:
        await agent.prepare()
        await place_call(agent, StreamChannel(reader, writer), room=ROOM, seq=SeqCounter())
        await agent.wait_connected()
        await asyncio.sleep(1.0)  # past the first keyframe and the encoder's start-up
        before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        await asyncio.sleep(window_s)
        after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        writer.write(json.dumps({"cpu_s": cpu, "wall_s": wall}).encode() + b"\n")
        await writer.drain()
    finally:
        await agent.close()
        await feed.close()
        mic.stop()
        writer.close()


async def measure_cpu(window_s: float, *, profile: Path | None = None) -> None:
    """Run the agent in a child process against an officer stand-in here; print its CPU per second.

    With `profile`, the child runs under py-spy (native frames, raw collapsed stacks written there).
    """
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    server = await asyncio.start_server(lambda r, w: accepted.put_nowait((r, w)), host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.connect",
        "--cpu-child",
        str(port),
        "--cpu-window",
        str(window_s),
        cwd=ROOT,
    )
    sink = NullSink()
    officer_mic = ToneMicrophone(660)
    officer = AgentPeer(
        build_configuration([]),
        CallMedia(audio=officer_mic, receive=frozenset({"audio", "video"})),
        sink=sink,
        timeouts=TIMEOUTS,
    )
    try:
        async with asyncio.timeout(window_s + 30):
            reader, writer = await accepted.get()
            await officer.prepare(pre_offer=False)
            await take_call(officer, StreamChannel(reader, writer), room=ROOM, seq=SeqCounter())
            await officer.wait_first_frame("video")
            frames_before, since = sink.frames["video"], time.perf_counter()
            if profile is not None:
                await _profile(child.pid, window_s, profile)
            report = json.loads(await reader.readline())
            frames, elapsed = sink.frames["video"] - frames_before, time.perf_counter() - since
            await child.wait()
    finally:
        await officer.close()
        officer_mic.stop()
        server.close()
        await server.wait_closed()
        if child.returncode is None:
            child.terminate()
            await child.wait()
    per_second = report["cpu_s"] / report["wall_s"]
    print(
        f"agent CPU per call, 640×480 30 fps VP8 + Opus, {report['wall_s']:.1f} s window (child process);"
        f" load average {os.getloadavg()[0]:.1f}:"
    )
    print(
        f"  {per_second:.3f} CPU-s/s ({per_second * 100:.1f} % of one core);"
        f" receiver decoded {frames} frames in {elapsed:.1f} s ≈ {frames / elapsed:.1f} fps"
    )


async def _profile(pid: int, window_s: float, out: Path) -> None:
    """Sample the agent child with py-spy for the window, without pausing it (raw collapsed stacks)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():  # noqa: ASYNC240 - once, before the window
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    sampler = await asyncio.create_subprocess_exec(
        spy,
        "record",
        "--nonblocking",
        "--format",
        "raw",
        "--rate",
        "200",
        "--duration",
        str(max(1, int(window_s) - 1)),
        "--pid",
        str(pid),
        "-o",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await sampler.wait()


def main() -> None:
    """Parse arguments and run the benches."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--cpu-window", type=float, default=5.0)
    parser.add_argument("--cpu-child", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--no-hub", action="store_true", help="only the in-process rows")
    parser.add_argument(
        "--profile", type=Path, help="run the CPU child under py-spy, raw stacks to this file"
    )
    args = parser.parse_args()
    if args.cpu_child:
        asyncio.run(cpu_child(args.cpu_child, args.cpu_window))
        return
    asyncio.run(measure_setup(args.calls, with_hub=not args.no_hub))
    if not args.skip_cpu:
        asyncio.run(measure_cpu(args.cpu_window, profile=args.profile))


if __name__ == "__main__":
    main()
