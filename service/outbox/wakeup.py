"""Wake the outbox workers of this process right after a transaction that wrote events commits."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.aftercommit import call_after_commit

_listeners: set[Callable[[], None]] = set()


def subscribe(listener: Callable[[], None]) -> None:
    """Call `listener` after every commit that wrote outbox rows (it must be cheap and thread-safe)."""
    _listeners.add(listener)


def unsubscribe(listener: Callable[[], None]) -> None:
    """Stop calling `listener`."""
    _listeners.discard(listener)


def _wake() -> None:
    for listener in list(_listeners):
        listener()


def after_commit(session: AsyncSession) -> None:
    """Arrange a wake-up once this session's transaction commits (never before: a rollback sends nothing)."""
    call_after_commit(session, "outbox.wakeup", _wake)
