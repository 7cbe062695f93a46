"""Stopping the counter's call never swallows the caller's own cancellation (the agent's shutdown hung on it)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from clerk_agent.flows.counter import CounterFlow


async def test_a_caller_cancelled_while_the_call_winds_down_ends_cancelled() -> None:
    winding_down = asyncio.Event()
    release = asyncio.Event()

    async def call() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            winding_down.set()
            await release.wait()  # closing its peer and socket takes a moment
            raise

    holder = SimpleNamespace(_call_task=asyncio.create_task(call()))
    carried_on = asyncio.Event()

    async def poller() -> None:
        await CounterFlow._stop_call(holder)  # type: ignore[arg-type]
        carried_on.set()  # the poller's loop would go on here
        await asyncio.Event().wait()

    polling = asyncio.create_task(poller())
    await winding_down.wait()
    polling.cancel()  # the agent shuts down while the call winds down
    release.set()
    async with asyncio.timeout(5):
        with pytest.raises(asyncio.CancelledError):
            await polling
    assert not carried_on.is_set()
    assert holder._call_task is None
