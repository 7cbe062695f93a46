"""The dispatcher: a background task that expires lapsed offers and offers waiting cases; the offer watcher."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.config import Settings
from service.db import unit_of_work
from service.queue import bell, dispatch

log = logging.getLogger(__name__)
# After a nudge, give the transaction that held the officers' rows a moment to commit: looking again at once would
# find them still locked and nudge again.
NUDGE_DELAY_SECONDS = 0.02


async def run_dispatcher(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Tick forever (until cancelled), sooner when nudged; a failed tick is logged and the next one runs."""
    nudged = bell.dispatcher_bell()
    try:
        while True:
            try:
                await asyncio.wait_for(nudged.wait(), timeout=settings.queue_tick_seconds)
                await asyncio.sleep(NUDGE_DELAY_SECONDS)
            except TimeoutError:
                pass
            nudged.clear()
            await _tick(sessionmaker, settings)
    finally:
        bell.release_dispatcher(nudged)


async def _tick(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    try:
        async with unit_of_work(sessionmaker) as session:
            await dispatch.tick(session, settings=settings)
    except asyncio.CancelledError:
        raise
    except Exception:
        # A database hiccup must not kill the dispatcher; the next tick retries.
        log.exception("queue dispatcher tick failed")


async def run_offer_watch(sessionmaker: async_sessionmaker[AsyncSession], interval: float = 1.0) -> None:
    """The offer watcher (`bell.watch`), restarted after a failed look (a database hiccup must not stop it)."""
    while True:
        try:
            await bell.watch(sessionmaker, interval)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("queue offer watcher failed")
            await asyncio.sleep(interval)
