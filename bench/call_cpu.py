"""The agent's CPU per call, beside aiortc's VP8 encoder alone on the same frames.

The agent runs alone in a child process (so the receiver's decoding is not counted) and places a call to an
officer stand-in here over a TCP signaling stream: 640×480 synthetic camera at 30 fps through the call's
`CameraFeed`, VP8 + Opus, the officer's Opus coming back. After a warm-up it reads its own getrusage over
the window and, per thread, /proc/self/task (event loop, encoder threads, decoder threads). Four agent rows:
the frame rate adapted to the link (the default, docs/live-link.md §11); the same with aiortc's thread pool
for every encode and its Opus encoder (before the encoder threads); fixed at 30 fps; and fixed at 30 fps
with aiortc's stock encoders and thread pool (what the agent used before §11's work).

The camera is the synthetic pattern, painted in the loop into yuv420p at 640×480 (about 0.2 ms a frame). A
real camera costs more and elsewhere: a 640×480 MJPEG webcam is decoded in aiortc's player thread (about
0.6 ms a frame) and converted once by the call track; docs/live-link.md §11 has the figures.

The baselines, in the same run and on the same pattern frames (painted beforehand, 10 s at 30 fps):
aiortc's own `Vp8Encoder` with its stock settings, and the agent's `CounterVp8Encoder`, each encoding in
one thread (CPU time of that thread per second of video). CPU-s/s is fairly robust to other load, but a
loaded machine makes every figure larger (caches, shared cores): the load average is printed with each row.

    .venv/bin/python -m bench.call_cpu [--window 10] [--runs 3] [--profile stacks.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import fractions
import json
import os
import re
import resource
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiortc.codecs import vpx
from av import VideoFrame

from clerk_agent.rtc import encoding, vp8
from clerk_agent.rtc.call import place_call, take_call
from clerk_agent.rtc.ice import build_configuration
from clerk_agent.rtc.pattern import PatternPainter
from clerk_agent.rtc.peer import AgentPeer, CallMedia, PeerTimeouts
from clerk_agent.rtc.relay import CallVideoTrack, CameraFeed
from clerk_agent.rtc.sinks import NullSink
from clerk_agent.rtc.sources import SyntheticCamera, ToneMicrophone, frame_planes
from clerk_agent.rtc.vp8 import COUNTER_VP8, CounterVp8Encoder
from service.wire.signaling import SeqCounter, SignalingMessage, decode, encode

ROOM = "case_bench000000000000000000"
TIMEOUTS = PeerTimeouts(answer_s=5, connect_s=5, first_frame_s=5)
ROOT = Path(__file__).resolve().parent.parent
WARM_UP_S = 2.0
ROWS = (
    "frame rate adapted (default)",
    "frame rate adapted, aiortc's pool and Opus encoder",
    "fixed 30 fps",
    "fixed 30 fps, aiortc's stock encoders and executor",
)  # past the first keyframe, the encoder's start-up and the first bitrate estimates


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


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far per kind of thread of this process (Linux /proc; empty elsewhere)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = collections.defaultdict(float)
    try:
        tasks = list(Path("/proc/self/task").iterdir())
    except OSError:
        return {}
    for task in tasks:
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        name = names.get(int(task.name), "other")
        kind = (
            "event loop"
            if name == "MainThread"
            else "encoders"
            if name.startswith(("asyncio", "encoder-"))
            else "decoders"
            if name.endswith("-decoder")
            else re.sub(r"[-_]\d+$", "", name)
        )
        out[kind] += (int(fields[11]) + int(fields[12])) / ticks
    return dict(out)


async def cpu_child(
    port: int, window_s: float, *, adapt: bool, stock: bool = False, pool: bool = False
) -> None:
    """The agent side: send 640×480 30 fps VP8 + Opus and report CPU seconds, per thread kind, and frames.

    `stock` puts aiortc's own encoders back (its Vp8Encoder with aiortc's settings, its OpusEncoder) and
    `pool` aiortc's Opus encoder and the loop's plain thread pool for every encode, for the comparison rows.
    """
    if stock or pool:
        from aiortc import codecs, rtcrtpsender
        from aiortc.codecs.opus import OpusEncoder

        setattr(encoding, "install", lambda *_: None)  # noqa: B010 - the loop keeps its plain pool
        setattr(encoding, "CounterOpusEncoder", OpusEncoder)  # noqa: B010
        setattr(vp8, "CounterOpusEncoder", OpusEncoder)  # noqa: B010 - what vp8's get_encoder builds
        if stock:
            setattr(rtcrtpsender, "get_encoder", codecs.get_encoder)  # noqa: B010 - undoes vp8.install()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    feed = CameraFeed(
        SyntheticCamera(640, 480, 30), call_size=(640, 480), adapt_rate=COUNTER_VP8 if adapt else None
    )
    video = feed.call_track()
    mic = ToneMicrophone()
    agent = AgentPeer(
        build_configuration([]), CallMedia(video=video, audio=mic), sink=NullSink(), timeouts=TIMEOUTS
    )
    try:
        await agent.prepare()
        await place_call(agent, StreamChannel(reader, writer), room=ROOM, seq=SeqCounter())
        await agent.wait_connected()
        await asyncio.sleep(WARM_UP_S)
        dropped = video.dropped if isinstance(video, CallVideoTrack) else 0
        before, threads, wall = resource.getrusage(resource.RUSAGE_SELF), thread_cpu(), time.perf_counter()
        await asyncio.sleep(window_s)
        after, threads_after = resource.getrusage(resource.RUSAGE_SELF), thread_cpu()
        wall = time.perf_counter() - wall
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        report = {
            "cpu_s": cpu,
            "wall_s": wall,
            "threads": {k: v - threads.get(k, 0.0) for k, v in threads_after.items()},
            "dropped": (video.dropped if isinstance(video, CallVideoTrack) else 0) - dropped,
        }
        writer.write(json.dumps(report).encode() + b"\n")
        await writer.drain()
    finally:
        await agent.close()
        await feed.close()
        mic.stop()
        writer.close()


async def agent_call(
    window_s: float, *, adapt: bool, stock: bool = False, pool: bool = False, profile: Path | None = None
) -> dict[str, Any]:
    """One call: the agent in a child process, the officer stand-in here. Returns the child's report."""
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    server = await asyncio.start_server(lambda r, w: accepted.put_nowait((r, w)), host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    args = ["--child", str(port), "--window", str(window_s)]
    args += ([] if adapt else ["--fixed-rate"]) + (["--stock-encoder"] if stock else [])
    args += ["--pool"] if pool else []
    child = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.call_cpu", *args, cwd=ROOT)
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
            await asyncio.sleep(WARM_UP_S)
            frames_before, since = sink.frames["video"], time.perf_counter()
            if profile is not None:
                await _profile(child.pid, window_s - 1, profile)
            report: dict[str, Any] = json.loads(await reader.readline())
            report["received_fps"] = (sink.frames["video"] - frames_before) / (time.perf_counter() - since)
            await child.wait()
    finally:
        await officer.close()
        officer_mic.stop()
        server.close()
        await server.wait_closed()
        if child.returncode is None:
            child.terminate()
            await child.wait()
    report["load"] = os.getloadavg()[0]
    return report


def pattern_frames(seconds: float = 10.0, fps: int = 30) -> list[VideoFrame]:
    """The synthetic camera's frames, painted beforehand (the encoders alone see exactly these)."""
    painter = PatternPainter(640, 480)
    frames = []
    for index in range(int(seconds * fps)):
        frame = VideoFrame(640, 480, "yuv420p")
        painter.paint_planes(*frame_planes(frame), index, f"09:30:{index // fps:02d}.{index % fps * 33:03d}")
        frame.pts, frame.time_base = index * 90_000 // fps, fractions.Fraction(1, 90_000)
        frames.append(frame)
    return frames


def encoder_alone(encoder: vpx.Vp8Encoder, frames: list[VideoFrame], fps: int = 30) -> tuple[float, float]:
    """(CPU seconds per second of video, kbit/s) for `encoder` on `frames`, in this thread alone."""
    bits = 0
    started = time.thread_time()
    for frame in frames:
        payloads, _ = encoder.encode(frame, False)
        bits += 8 * sum(len(p) for p in payloads)
    seconds = len(frames) / fps
    return (time.thread_time() - started) / seconds, bits / seconds / 1000


async def _profile(pid: int, window_s: float, out: Path) -> None:
    """Sample the agent child with py-spy for the window, without pausing it (raw collapsed stacks)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():  # noqa: ASYNC240 - once, before the window
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    sampler = await asyncio.create_subprocess_exec(
        *[spy, "record", "--nonblocking", "--format", "raw", "--rate", "200"],
        *["--duration", str(max(1, int(window_s))), "--pid", str(pid), "-o", str(out)],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await sampler.wait()


def _row(name: str, values: list[float], unit: str, extra: str = "") -> None:
    print(
        f"  {name:<58} {statistics.median(values):>6.3f} {unit}"
        f" (min {min(values):.3f}, max {max(values):.3f}){extra}"
    )


async def measure_cpu(window_s: float, *, runs: int = 1, profile: Path | None = None) -> None:
    """Agent rows (adapted and fixed frame rate), then both encoders alone on the same frames; print all."""
    calls: dict[str, list[dict[str, Any]]] = {row: [] for row in ROWS}
    for run in range(runs):  # interleaved, so drift on a shared machine hits every row alike
        calls[ROWS[0]].append(await agent_call(window_s, adapt=True, profile=profile if run == 0 else None))
        calls[ROWS[1]].append(await agent_call(window_s, adapt=True, pool=True))
        calls[ROWS[2]].append(await agent_call(window_s, adapt=False))
        calls[ROWS[3]].append(await agent_call(window_s, adapt=False, stock=True))
    frames = pattern_frames()
    stock = [encoder_alone(vpx.Vp8Encoder(), frames) for _ in range(runs)]
    ours = [encoder_alone(CounterVp8Encoder(), frames) for _ in range(runs)]
    loads = [c["load"] for rows in calls.values() for c in rows]
    print(
        f"agent CPU per call, 640×480 VP8 + Opus from a 30 fps camera, {window_s:.0f} s windows, n={runs} per row"
        f" (child process); {os.cpu_count()} CPUs, load average {min(loads):.1f}–{max(loads):.1f}"
        f" during the calls, {os.getloadavg()[0]:.1f} now (baselines are rows of this run)"
    )
    for label, rows in calls.items():
        per_second = [c["cpu_s"] / c["wall_s"] for c in rows]
        fps = statistics.median(c["received_fps"] for c in rows)
        _row(f"agent, {label}", per_second, "CPU-s/s", f"; officer decoded {fps:.1f} fps")
        kinds = sorted({k for c in rows for k in c["threads"]})
        split = ", ".join(
            f"{k} {statistics.median(c['threads'].get(k, 0.0) / c['wall_s'] for c in rows):.3f}"
            for k in kinds
        )
        print(f"    by thread (median CPU-s/s): {split}")
    _row(
        "aiortc's Vp8Encoder alone, stock settings",
        [c for c, _ in stock],
        "CPU-s/s",
        f"; {stock[0][1]:.0f} kbit/s",
    )
    _row("the agent's CounterVp8Encoder alone", [c for c, _ in ours], "CPU-s/s", f"; {ours[0][1]:.0f} kbit/s")
    print("  (encoders alone: 300 pre-painted pattern frames, 30 fps, one thread, CPU per second of video)")


def main() -> None:
    """Parse arguments and run the bench (or, with --child, the agent side of one call)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured per call")
    parser.add_argument("--runs", type=int, default=3, help="calls per agent row")
    parser.add_argument("--profile", type=Path, help="py-spy the first adapted call, raw stacks to this file")
    parser.add_argument("--child", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--fixed-rate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stock-encoder", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pool", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        adapt = not args.fixed_rate
        asyncio.run(cpu_child(args.child, args.window, adapt=adapt, stock=args.stock_encoder, pool=args.pool))
        return
    asyncio.run(measure_cpu(args.window, runs=args.runs, profile=args.profile))


if __name__ == "__main__":
    main()
