"""Where the call's encoders run, and the Opus encoder fed without a resampler (docs/live-link.md §11).

aiortc 1.16's sender encodes every frame with `loop.run_in_executor(None, encoder.encode, frame, keyframe)`:
the loop's default `ThreadPoolExecutor`, one work item, a `concurrent.futures.Future` with its condition
variable, and an asyncio future chained to it — per frame, 30 video and 50 audio frames a second.
`EncoderExecutor` is that default executor with a shorter path for encoders: each encoder gets its own
long-lived thread (a *lane*, fed by a queue), and the lane settles the asyncio future on the loop directly,
which `run_in_executor` accepts as is. Encoders listed as `inline` run in the caller instead: `install()`
lists Opus, whose 20 ms frame encodes in about 0.2 ms — less than handing it to a thread and back costs, in
the call bench. Every other call (`asyncio.to_thread`, card reads, PDFs) still goes to the thread pool.

`CounterOpusEncoder` keeps aiortc's Opus settings but skips aiortc's resampler when a frame is already what
Opus takes (48 kHz s16, 20 ms), and codes a mono microphone as mono Opus instead of upmixing it to stereo
first (RFC 7587: a stereo-signalled stream may carry mono packets; every decoder plays them).

Dropping it: if aiortc's sender takes an executor or an encoder factory per sender, pass these there and
delete `install()`; if its Opus encoder stops resampling frames that need none, delete `CounterOpusEncoder`.
tests/clerk_agent/rtc/test_encoding.py says what must still hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final, cast

from aiortc.codecs import base
from aiortc.codecs.opus import SAMPLE_RATE, SAMPLES_PER_FRAME, OpusEncoder
from av import AudioFrame, AudioResampler
from av.frame import Frame

logger = logging.getLogger(__name__)

_TIME_BASE: Final = fractions.Fraction(1, SAMPLE_RATE)
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class _Lane:
    """One encoder's thread: runs its encode calls in order and settles each asyncio future on its loop."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def put(self, job: _Job) -> None:
        self._jobs.put(job)

    def close(self) -> None:
        """End the thread after the calls already queued."""
        self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            self._do(*job)
            job = None  # an idle lane keeps neither the frame nor the encoder alive

    @staticmethod
    def _do(
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
    ) -> None:
        try:
            result = fn(*args)
        except BaseException as exc:
            _settle_threadsafe(loop, future, None, exc)
        else:
            _settle_threadsafe(loop, future, result, None)


def _settle_threadsafe(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any, exc: BaseException | None
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
        loop.call_soon_threadsafe(_settle, future, result, exc)


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class EncoderExecutor(ThreadPoolExecutor):
    """The loop's default executor: encoder calls on their encoder's own thread, everything else in the pool."""

    def __init__(self, *, inline: tuple[type[base.Encoder], ...] = (), **kwargs: Any) -> None:
        kwargs.setdefault("thread_name_prefix", "asyncio")
        super().__init__(**kwargs)
        self.inline = inline
        self._lanes: weakref.WeakKeyDictionary[base.Encoder, _Lane] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """An encoder's `encode` goes to its lane (or runs inline); any other call to the thread pool."""
        encoder = getattr(fn, "__self__", None)
        if kwargs or not isinstance(encoder, base.Encoder) or getattr(fn, "__name__", None) != "encode":
            return super().submit(fn, *args, **kwargs)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not called from a loop (not run_in_executor): the pool it is
            return super().submit(fn, *args)
        future = loop.create_future()
        if isinstance(encoder, self.inline):
            try:
                future.set_result(fn(*args))
            except Exception as exc:
                future.set_exception(exc)
        else:
            self._lane(encoder).put((loop, future, fn, args))
        # run_in_executor passes an asyncio future through (asyncio.wrap_future), so no chaining per frame.
        return cast("Future[Any]", future)

    def _lane(self, encoder: base.Encoder) -> _Lane:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            lane = self._lanes.get(encoder)
            if lane is None:
                lane = self._lanes[encoder] = _Lane(f"encoder-{type(encoder).__name__}")
                weakref.finalize(encoder, lane.close)  # the sender dropped its encoder: the call ended
            return lane

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut the pool down and end every lane (after the encodes already queued)."""
        with self._lock:
            self._closed = True
            lanes = list(self._lanes.values())
            self._lanes.clear()
        for lane in lanes:
            lane.close()
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        if wait:
            for lane in lanes:
                if lane.thread is not threading.current_thread():
                    lane.thread.join()


_installed: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def install(loop: asyncio.AbstractEventLoop | None = None) -> EncoderExecutor:
    """Make an `EncoderExecutor` the default executor of `loop` (default: the running one); idempotent.

    An executor the loop had before is dropped, not shut down: its idle threads end when it is collected,
    and calls already queued in it still run.
    """
    loop = loop or asyncio.get_running_loop()
    executor = getattr(loop, "_madoguchi_encoder_executor", None)
    if loop in _installed and isinstance(executor, EncoderExecutor):
        return executor
    executor = EncoderExecutor(inline=(OpusEncoder,))
    loop.set_default_executor(executor)
    setattr(loop, "_madoguchi_encoder_executor", executor)  # noqa: B010 - our own attribute on the loop
    _installed.add(loop)
    return executor


class CounterOpusEncoder(OpusEncoder):
    """aiortc's Opus encoder (same bitrate and application), without a resampler when none is needed."""

    def __init__(self) -> None:
        super().__init__()
        self._direct: bool | None = None  # decided on the first frame

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        """Encode 20 ms of sound; a frame Opus takes as it is goes straight to the codec."""
        if not isinstance(frame, AudioFrame):
            return super().encode(frame, force_keyframe)
        if self._direct is None:
            self._direct = self._takes(frame)
            if self._direct:
                self.codec.layout = frame.layout.name  # mono stays mono; opened on the first encode
        if self._direct and not self._takes(frame, layout=self.codec.layout.name):
            # A frame of another kind after all (a device renegotiated): from now on resample as aiortc
            # does, to the layout the codec was opened with, which cannot change without a new stream.
            self._direct = False
            self.resampler = AudioResampler(
                format="s16", layout=self.codec.layout.name, rate=SAMPLE_RATE, frame_size=SAMPLES_PER_FRAME
            )
        if not self._direct:
            return super().encode(frame, force_keyframe)
        packets = self.codec.encode(frame)
        if not packets:
            return [], 0
        if self.first_packet_pts is None:
            self.first_packet_pts = packets[0].pts
        first = packets[0].pts
        return [bytes(p) for p in packets], (first or 0) - (self.first_packet_pts or 0)

    @staticmethod
    def _takes(frame: AudioFrame, layout: str | None = None) -> bool:
        """True if the codec can take `frame` as it is: s16, 48 kHz, 20 ms, pts in 1/48000 s."""
        return (
            frame.format.name == "s16"
            and frame.sample_rate == SAMPLE_RATE
            and frame.samples == SAMPLES_PER_FRAME
            and frame.layout.name in ("mono", "stereo")
            and (layout is None or frame.layout.name == layout)
            and frame.pts is not None
            and frame.time_base == _TIME_BASE
        )
