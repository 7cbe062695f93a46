"""The dispatcher: a background task that expires lapsed offers and offers waiting cases."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.config import Settings
from service.db import unit_of_work
from service.queue import dispatch

log = logging.getLogger(__name__)


async def run_dispatcher(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Tick forever (until cancelled); a failed tick is logged and the next one runs."""
    while True:
        await asyncio.sleep(settings.queue_tick_seconds)
        try:
            async with unit_of_work(sessionmaker) as session:
                await dispatch.tick(session, settings=settings)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database hiccup must not kill the dispatcher; the next tick retries.
            log.exception("queue dispatcher tick failed")
