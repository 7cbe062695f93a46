"""Wakes an officer's waiting long-poll the moment an offer for them commits in this process.

Offers made or closed by another hub process are found by the process's one offer watcher (`watch`): once a
second it reads the pending offers of every officer waiting here, in one query, and rings the bells of those whose
offer is not the one their long-poll last saw. Before, each waiting long-poll looked for itself once a second:
with 50 consoles waiting that was a third of the hub's CPU during the queue bench (#18).

The dispatcher has a bell too: a dispatch that left a case unoffered only because the officers it picked were
locked by another transaction rings it on commit, so the dispatcher looks again at once instead of on its tick.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db import unit_of_work
from service.kit.aftercommit import call_after_commit
from service.queue.models import CaseOffer

_waiters: dict[str, set[asyncio.Event]] = {}
# The pending offer each waiting long-poll last saw (None: none): what the watcher compares with.
_seen: dict[asyncio.Event, str | None] = {}
_watchers = 0
_dispatchers: set[asyncio.Event] = set()


def note_offer(session: AsyncSession, officer_id: str) -> None:
    """Ring `officer_id`'s bell once this session's transaction commits (never before: the offer must be visible)."""
    call_after_commit(session, f"queue.bell:{officer_id}", lambda: _ring(officer_id))


def waiter(officer_id: str) -> asyncio.Event:
    """An event set when an offer for the officer commits; call `release` when done with it."""
    bell = asyncio.Event()
    _waiters.setdefault(officer_id, set()).add(bell)
    return bell


def saw(bell: asyncio.Event, offer_id: str | None) -> None:
    """Note the pending offer (or None) the waiter's last look found; the watcher rings when that changes."""
    _seen[bell] = offer_id


def watched() -> bool:
    """Whether an offer watcher runs in this process (else a long-poll must look at the database itself)."""
    return _watchers > 0


def release(officer_id: str, bell: asyncio.Event) -> None:
    """Forget a waiter."""
    _seen.pop(bell, None)
    bells = _waiters.get(officer_id)
    if bells is not None:
        bells.discard(bell)
        if not bells:
            _waiters.pop(officer_id, None)


def _ring(officer_id: str) -> None:
    for bell in _waiters.get(officer_id, ()):
        bell.set()


def nudge_dispatcher(session: AsyncSession) -> None:
    """Have this process's dispatcher run soon after this session's transaction commits."""
    call_after_commit(session, "queue.dispatcher", _nudge)


def dispatcher_bell() -> asyncio.Event:
    """The event a dispatcher waits on between ticks; call `release_dispatcher` when it stops."""
    bell = asyncio.Event()
    _dispatchers.add(bell)
    return bell


def release_dispatcher(bell: asyncio.Event) -> None:
    """Forget a dispatcher's event."""
    _dispatchers.discard(bell)


def _nudge() -> None:
    for bell in _dispatchers:
        bell.set()


async def watch(sessionmaker: async_sessionmaker[AsyncSession], interval: float) -> None:
    """Every `interval` seconds, ring each waiter whose officer's pending offer changed (until cancelled).

    The same choice as the long-poll's own look (the officer's oldest pending offer), for every waiting officer in
    one query; the rung long-poll then reads the offer itself.
    """
    global _watchers
    _watchers += 1
    try:
        while True:
            await asyncio.sleep(interval)
            officers = [officer for officer, bells in _waiters.items() if bells]
            if not officers:
                continue
            current: dict[str, str] = {}
            async with unit_of_work(sessionmaker) as session:
                rows = await session.execute(
                    select(CaseOffer.officer_id, CaseOffer.id)
                    .where(CaseOffer.officer_id.in_(officers), CaseOffer.outcome == "pending")
                    .order_by(CaseOffer.offered_at.desc())
                )
                for officer_id, offer_id in rows.all():
                    current[officer_id] = offer_id  # the oldest, read last, wins
            for officer_id in officers:
                for bell in list(_waiters.get(officer_id, ())):
                    if bell in _seen and _seen[bell] != current.get(officer_id):
                        bell.set()
    finally:
        _watchers -= 1
