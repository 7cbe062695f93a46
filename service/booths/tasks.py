"""The booth re-check job: ask the residence municipality's record about each approved booth case, hold or release.

The adapter is asked outside any transaction; each answer is stored in its own unit of work (docs/booths.md
§Recheck). Owned by the app's lifespan like the queue dispatcher.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.booths import service as booth_service
from service.booths.standing import Standing, StandingAdapter, StandingError, StandingSimulator
from service.config import Environment, Settings
from service.db import unit_of_work
from service.kit import clock

log = logging.getLogger(__name__)


async def run_due(
    sessionmaker: async_sessionmaker[AsyncSession], adapter: StandingAdapter, *, limit: int = 50
) -> int:
    """One pass over the due re-checks; returns how many were asked."""
    async with unit_of_work(sessionmaker) as session:
        due = await booth_service.due_rechecks(session, now=clock.now(), limit=limit)
    for client_case_id, municipality_code, shinseisho_id in due:
        standing: Standing | None
        try:
            standing = await adapter.standing(
                municipality_code=municipality_code, shinseisho_id=shinseisho_id
            )
        except StandingError:
            standing = None
        async with unit_of_work(sessionmaker) as session:
            await booth_service.apply_standing(session, client_case_id=client_case_id, standing=standing)
    return len(due)


async def run_rechecks(
    sessionmaker: async_sessionmaker[AsyncSession], adapter: StandingAdapter, interval: float
) -> None:
    """Re-check forever (until cancelled); a failed pass is logged and the next one runs."""
    while True:
        await asyncio.sleep(interval)
        try:
            await run_due(sessionmaker, adapter)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("booth re-check pass failed")


def standing_adapter_for(settings: Settings) -> StandingAdapter | None:
    """The re-check adapter: the simulator outside production; none yet in production (cases wait, held)."""
    if settings.environment is Environment.production:
        return None
    return StandingSimulator()


def recheck_enabled(settings: Settings) -> bool:
    """Tests drive `run_due` themselves, as they drive the outbox worker."""
    return settings.environment is not Environment.test
