"""Wake the outbox workers of this process right after a transaction that wrote events commits."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_listeners: set[Callable[[], None]] = set()
_FLAG = "outbox.wake_after_commit"


def subscribe(listener: Callable[[], None]) -> None:
    """Call `listener` after every commit that wrote outbox rows (it must be cheap and thread-safe)."""
    _listeners.add(listener)


def unsubscribe(listener: Callable[[], None]) -> None:
    """Stop calling `listener`."""
    _listeners.discard(listener)


def _after_commit(session: Session) -> None:
    session.info.pop(_FLAG, None)
    for listener in list(_listeners):
        listener()


def after_commit(session: AsyncSession) -> None:
    """Arrange a wake-up once this session's transaction commits (never before: a rollback sends nothing)."""
    sync = session.sync_session
    if sync.info.get(_FLAG):
        return
    sync.info[_FLAG] = True
    event.listen(sync, "after_commit", _after_commit, once=True)
