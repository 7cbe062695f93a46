"""Wakes an officer's waiting long-poll the moment an offer for them commits in this process.

Offers made by another hub process are still found by the long-poll's periodic look at the database; the bell
only removes the polling delay for the common case.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.aftercommit import call_after_commit

_waiters: dict[str, set[asyncio.Event]] = {}


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
