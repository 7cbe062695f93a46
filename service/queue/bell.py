"""Wakes an officer's waiting long-poll the moment an offer for them commits in this process.

Offers made by another hub process are still found by the long-poll's periodic look at the database; the bell
only removes the polling delay for the common case.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

_waiters: dict[str, set[asyncio.Event]] = {}
_PENDING_KEY = "queue.offer_bells"


def note_offer(session: Session, officer_id: str) -> None:
    """Ring `officer_id`'s bell once this session's transaction commits (never before: the offer must be visible)."""
    session.info.setdefault(_PENDING_KEY, set()).add(officer_id)


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


@event.listens_for(Session, "after_commit")
def _ring_after_commit(session: Session) -> None:
    for officer_id in session.info.pop(_PENDING_KEY, set()):
        for bell in _waiters.get(officer_id, ()):
            bell.set()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING_KEY, None)
