"""Wakes an officer's waiting long-poll the moment an offer for them commits in this process.

Offers made by another hub process are still found by the long-poll's periodic look at the database; the bell
only removes the polling delay for the common case.

The dispatcher has a bell too: a dispatch that left a case unoffered only because the officers it picked were
locked by another transaction rings it on commit, so the dispatcher looks again at once instead of on its tick.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.aftercommit import call_after_commit

_waiters: dict[str, set[asyncio.Event]] = {}
_dispatchers: set[asyncio.Event] = set()


def note_offer(session: AsyncSession, officer_id: str) -> None:
    """Ring `officer_id`'s bell once this session's transaction commits (never before: the offer must be visible)."""
    call_after_commit(session, f"queue.bell:{officer_id}", lambda: _ring(officer_id))


def waiter(officer_id: str) -> asyncio.Event:
    """An event set when an offer for the officer commits; call `release` when done with it."""
    bell = asyncio.Event()
    _waiters.setdefault(officer_id, set()).add(bell)
    return bell


def release(officer_id: str, bell: asyncio.Event) -> None:
    """Forget a waiter."""
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
