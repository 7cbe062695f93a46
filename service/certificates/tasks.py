"""The sweep that expires uncollected receipts and destroys their documents (also done lazily on access)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import SYSTEM
from service.certificates import printing
from service.db import unit_of_work

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0


async def run_expiry(sessionmaker: async_sessionmaker[AsyncSession], interval: float = SWEEP_SECONDS) -> None:
    """Sweep forever (until cancelled); a failed sweep is logged and the next one runs."""
    while True:
        await asyncio.sleep(interval)
        try:
            async with unit_of_work(sessionmaker) as session:
                await printing.expire_due(session, principal=SYSTEM)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database hiccup must not end the sweep: the next one retries, and access expires lazily anyway.
            log.exception("certificate expiry sweep failed")
