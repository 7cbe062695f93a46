"""The agent's durable local record (SQLite in the data directory): pending hub writes and counter cases.

Every hub write is stored before it is sent and removed once the hub answered, so a write the clerk made
while the hub was down (or the agent restarted) is replayed, in order. Case creation carries an
Idempotency-Key, so a replay returns the case already created instead of a second one.
Each write records what it carries (its call and action, service/wire/calls.py) so its answer is read by what was
asked; a row stored by an older agent has neither (NULL) and the reader derives them from its path.
Only codes and ids are kept here: never a PIN, code B or the My Number. A document still or the application
photo waiting for the hub is kept beside its write (pending_blob) and deleted with it once the hub has it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_write (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    local_case_id TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body TEXT,
    idempotency_key TEXT,
    created_at REAL NOT NULL,
    call TEXT,
    action TEXT
);
CREATE TABLE IF NOT EXISTS pending_blob (
    write_id INTEGER PRIMARY KEY,
    media_type TEXT NOT NULL,
    content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS counter_case (
    local_case_id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class PendingWrite:
    """One hub write not yet answered."""

    id: int
    local_case_id: str
    method: str
    path: str
    body: dict[str, object] | None
    idempotency_key: str | None
    media_type: str | None = None  # set for an upload: `content` is its body and `body` its query parameters
    content: bytes | None = None
    call: str | None = None  # None: stored by an agent version that did not record it
    action: str | None = None


class LocalStore:
    """SQLite through stdlib sqlite3; every call runs in a worker thread, one at a time."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(pending_write)")}
        for added in ("call", "action"):  # a store an older agent version created
            if added not in columns:
                self._db.execute(f"ALTER TABLE pending_write ADD COLUMN {added} TEXT")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        def locked() -> _T:
            with self._lock:
                try:
                    return fn(self._db)
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise

        return await asyncio.to_thread(locked)

    async def add_write(
        self,
        local_case_id: str,
        method: str,
        path: str,
        body: dict[str, object] | None,
        idempotency_key: str | None,
        blob: tuple[str, bytes] | None = None,
        *,
        call: str | None = None,
        action: str | None = None,
    ) -> int:
        """Persist a write (and an upload's bytes, in the same transaction) before sending it; returns its id."""

        def insert(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            cursor = db.execute(
                "INSERT INTO pending_write"
                " (local_case_id, method, path, body, idempotency_key, created_at, call, action)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    local_case_id,
                    method,
                    path,
                    json.dumps(body) if body is not None else None,
                    idempotency_key,
                    time.time(),
                    call,
                    action,
                ),
            )
            write_id = int(cursor.lastrowid or 0)
            if blob is not None:
                db.execute(
                    "INSERT INTO pending_blob (write_id, media_type, content) VALUES (?, ?, ?)",
                    (write_id, blob[0], blob[1]),
                )
            db.execute("COMMIT")
            return write_id

        return await self._run(insert)

    async def done(self, write_id: int) -> None:
        """The hub answered this write (an upload's bytes go with it)."""

        def delete(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM pending_blob WHERE write_id = ?", (write_id,))
            db.execute("DELETE FROM pending_write WHERE id = ?", (write_id,))
            db.execute("COMMIT")

        await self._run(delete)

    async def pending(self) -> list[PendingWrite]:
        """Writes not yet answered, oldest first."""

        def select(db: sqlite3.Connection) -> list[PendingWrite]:
            rows = db.execute(
                "SELECT w.id, w.local_case_id, w.method, w.path, w.body, w.idempotency_key, b.media_type,"
                " b.content, w.call, w.action FROM pending_write w LEFT JOIN pending_blob b ON b.write_id = w.id ORDER BY w.id"
            ).fetchall()
            return [
                PendingWrite(
                    r[0], r[1], r[2], r[3], json.loads(r[4]) if r[4] else None, r[5], r[6], r[7], r[8], r[9]
                )
                for r in rows
            ]

        return await self._run(select)

    async def save_case(self, local_case_id: str, record: dict[str, object], *, finished: bool) -> None:
        """Upsert the local record of a counter case (codes and ids only)."""
        text = json.dumps(record, ensure_ascii=False)

        def upsert(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO counter_case (local_case_id, record, finished, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(local_case_id) DO UPDATE SET record = excluded.record,"
                " finished = excluded.finished, updated_at = excluded.updated_at",
                (local_case_id, text, int(finished), time.time()),
            )

        await self._run(upsert)

    async def unfinished_case(self) -> dict[str, object] | None:
        """The newest counter case not finished (to resume after a restart)."""

        def select(db: sqlite3.Connection) -> dict[str, object] | None:
            row = db.execute(
                "SELECT record FROM counter_case WHERE finished = 0 ORDER BY updated_at DESC LIMIT 1"
            ).fetchone()
            loaded: dict[str, object] | None = json.loads(row[0]) if row else None
            return loaded

        return await self._run(select)
