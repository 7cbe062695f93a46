"""The checkpointer: signs the audit chains' heads at an interval."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.audit.checkpoints import SigningKey, checkpoint_all
from service.config import Settings
from service.db import unit_of_work

log = logging.getLogger(__name__)


async def run_checkpointer(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, key: SigningKey
) -> None:
    """Sign moved chain heads every interval until cancelled; a failed round is logged and retried."""
    while True:
        await asyncio.sleep(settings.audit_checkpoint_interval_seconds)
        try:
            async with unit_of_work(sessionmaker) as session:
                await checkpoint_all(session, key=key)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Like the dispatcher: a database hiccup must not end checkpointing for good.
            log.exception("audit checkpoint round failed")
