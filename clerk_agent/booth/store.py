"""The booth laptop's local store: every case encrypted at rest with the session's data key (docs/booths.md §Offline).

One SQLite file. A case's content (申請書ID, answers, stills, the sealed PIN request, the decision) is one AES-256-GCM
ciphertext with its own nonce and the case id as associated data; only ids, sequence numbers and the hub's answers
(codes) are stored in the clear. The data key comes from the hub and is held in memory only: without it the file
tells nothing about any resident, and a revoked laptop cannot get it back.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from clerk_agent.errors import AgentError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS booth_case (
    case_id TEXT PRIMARY KEY,
    sequence INTEGER NOT NULL UNIQUE,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    status TEXT NOT NULL,
    answer TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
"""


class StoreLocked(AgentError):
    """The store's data key is missing or wrong: nothing in it can be read."""

    retriable = False
    code = "booth_store_locked"


@dataclass(frozen=True)
class StoredCase:
    """One case row: its plain bookkeeping and, when unlocked, its content."""

    case_id: str
    sequence: int
    status: str  # recorded (not yet answered by the hub) | synced | conflict | refused
    answer: dict[str, Any] | None
    attempts: int


class BoothStore:
    """The encrypted case store of one booth session."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.executescript(_SCHEMA)
        path.chmod(0o600)
        self._key: AESGCM | None = None

    def unlock(self, data_key: bytes) -> None:
        """Hold the data key (in memory only) so that cases can be written and read."""
        self._key = AESGCM(data_key)

    def lock(self) -> None:
        """Forget the data key."""
        self._key = None

    def _aead(self) -> AESGCM:
        if self._key is None:
            raise StoreLocked("the booth store is locked: log in to the hub to get its key")
        return self._key

    # ---- plain metadata (no personal data: the booth, the session id, the sealing key) --------------------

    def set_meta(self, key: str, value: Any) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    # ---- cases ----------------------------------------------------------------------------------------------

    def next_sequence(self) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(sequence), 0) FROM booth_case").fetchone()
        return int(row[0]) + 1

    def add(self, case_id: str, sequence: int, content: dict[str, Any]) -> None:
        """Encrypt and store a new case."""
        nonce = os.urandom(12)
        ciphertext = self._aead().encrypt(nonce, json.dumps(content).encode(), case_id.encode())
        with self._db:
            self._db.execute(
                "INSERT INTO booth_case (case_id, sequence, nonce, ciphertext, status) VALUES (?, ?, ?, ?, 'recorded')",
                (case_id, sequence, nonce, ciphertext),
            )

    def content(self, case_id: str) -> dict[str, Any]:
        """The decrypted content of a case (StoreLocked without the right key)."""
        row = self._db.execute(
            "SELECT nonce, ciphertext FROM booth_case WHERE case_id = ?", (case_id,)
        ).fetchone()
        if row is None:
            raise KeyError(case_id)
        try:
            plain = self._aead().decrypt(row[0], row[1], case_id.encode())
        except InvalidTag as exc:
            raise StoreLocked("the data key does not open this store") from exc
        value: dict[str, Any] = json.loads(plain)
        return value

    def cases(self, *, status: str | None = None) -> list[StoredCase]:
        """Cases in sequence order (optionally of one status)."""
        query = "SELECT case_id, sequence, status, answer, attempts FROM booth_case"
        args: tuple[str, ...] = ()
        if status is not None:
            query, args = query + " WHERE status = ?", (status,)
        rows = self._db.execute(query + " ORDER BY sequence", args).fetchall()
        return [StoredCase(r[0], r[1], r[2], json.loads(r[3]) if r[3] else None, r[4]) for r in rows]

    def answered(self, case_id: str, status: str, answer: dict[str, Any]) -> None:
        """Record the hub's answer; an answered case is never sent again."""
        with self._db:
            self._db.execute(
                "UPDATE booth_case SET status = ?, answer = ? WHERE case_id = ?",
                (status, json.dumps(answer), case_id),
            )

    def attempted(self, case_id: str) -> None:
        with self._db:
            self._db.execute("UPDATE booth_case SET attempts = attempts + 1 WHERE case_id = ?", (case_id,))

    def wipe(self) -> None:
        """Destroy the store: overwrite the file, then remove it (the hub told the laptop it was revoked)."""
        self._key = None
        self._db.close()
        size = self.path.stat().st_size if self.path.exists() else 0
        if size:
            with self.path.open("r+b") as handle:
                handle.write(os.urandom(size))
                handle.flush()
                os.fsync(handle.fileno())
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        self._db.close()
