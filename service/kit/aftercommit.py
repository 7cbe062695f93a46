"""Work that must wait until a session's transaction commits: never before (the rows must be visible to whoever
is woken), never after a rollback (nothing happened).

One pair of session-wide listeners runs what each session queued in `Session.info`; domains queue a callback
under a key, and the same key is run once per transaction however often it is queued.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_KEY = "kit.after_commit"


def call_after_commit(session: Session | AsyncSession, key: str, callback: Callable[[], None]) -> None:
    """Run `callback` once the current transaction of `session` commits; a key already queued is kept as is.

    Callbacks run in the committing thread and must be cheap; they are dropped if the transaction rolls back.
    """
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    pending: dict[str, Callable[[], None]] = sync.info.setdefault(_KEY, {})
    pending.setdefault(key, callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_KEY, {}).values():
        callback()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session, *_: Any) -> None:
    session.info.pop(_KEY, None)
