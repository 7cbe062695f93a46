"""Snapshot every table's rows, to prove a refused request changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.models import metadata

# Bookkeeping of authentication itself (nonces of signed requests, sessions touched) is not the data under test.
IGNORED = {"device_request_nonce", "device", "auth_session"}


async def snapshot(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, list[tuple[Any, ...]]]:
    """All rows of all tables (except authentication bookkeeping), sorted."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with sessionmaker() as session:
        for table in metadata.sorted_tables:
            if table.name in IGNORED:
                continue
            rows = (await session.execute(select(table))).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out
