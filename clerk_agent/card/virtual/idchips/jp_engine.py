"""A small ISO 7816-4 file card for the virtual Japanese documents (licence, residence card).

It does what those chips do and no more: SELECT the MF, a DF by name or an EF by file id, READ BINARY by offset or
short EF id, VERIFY against a key with a try counter. The documents add their own commands (the residence card's
mutual authentication and secure messaging) by overriding `document_command`. Volatile state is cleared on power-on and reset;
try counters persist, as on the card. Every APDU is logged so that tests can prove what was (not) sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from clerk_agent.card.apdu import SW
from clerk_agent.card.virtual.command import Apdu, parse_apdu, sw

MF = b""  # the key of the master file in `dfs`


@dataclass
class JpFile:
    """A transparent EF: `data` padded with nothing; `read_keys` must all be verified (empty: free)."""

    data: bytes
    sfi: int | None = None
    read_keys: frozenset[int] = frozenset()
    secure_messaging: bool = False  # readable only through SM after the access key was verified


@dataclass
class JpKey:
    """A PIN or access key with its counter (None: the key has no counter, e.g. the residence card number)."""

    secret: bytes
    tries_left: int | None = 3


@dataclass
class JpDf:
    """One DF (or the MF): its EFs by file id."""

    files: dict[int, JpFile] = field(default_factory=dict)


class JpFileCard:
    """The shared engine; `dfs` maps a DF name (MF = b"") to its files, `keys` a VERIFY P2 to its key."""

    def __init__(
        self,
        *,
        atr: bytes,
        dfs: dict[bytes, JpDf],
        keys: dict[int, JpKey],
        label: str,
        violation_sink: Callable[[str], None] | None = None,
    ) -> None:
        self.atr = atr
        self.dfs = dfs
        self.keys = keys
        self.label = label
        self.apdu_log: list[bytes] = []
        self._violation_sink = violation_sink
        self._lock = threading.Lock()
        self._df: bytes = MF
        self._ef: int | None = None
        self.verified: set[int] = set()

    # --- power --------------------------------------------------------------------------------------

    def power_on(self) -> None:
        """Cold start: the MF selected, nothing verified."""
        with self._lock:
            self._df, self._ef = MF, None
            self.verified.clear()
            self.on_reset()

    def reset(self) -> None:
        """Warm reset; the same as power-on here."""
        self.power_on()

    power_off = power_on

    def on_reset(self) -> None:
        """Hook for a document's own volatile state."""

    # --- dispatch -----------------------------------------------------------------------------------

    def process(self, raw: bytes) -> bytes:
        """Execute one command APDU; thread-safe."""
        with self._lock:
            self.apdu_log.append(bytes(raw))
            command = parse_apdu(raw)
            if command is None:
                return sw(SW.WRONG_LENGTH)
            answer = self.document_command(command)
            if answer is not None:
                return answer
            if command.cla != 0x00:
                return sw(SW.CLA_NOT_SUPPORTED)
            if command.ins == 0xA4:
                return self._select(command)
            if command.ins == 0xB0:
                return self._read_binary(command, secure=False)
            if command.ins == 0x20:
                return self._verify(command)
            return sw(SW.INS_NOT_SUPPORTED)

    def document_command(self, command: Apdu) -> bytes | None:
        """A document's own commands; None lets the engine handle the APDU."""
        del command
        return None

    # --- SELECT -------------------------------------------------------------------------------------

    def _select(self, c: Apdu) -> bytes:
        if c.p1 == 0x00 and (not c.data or c.data == b"\x3f\x00"):
            self._df, self._ef = MF, None
            return sw(SW.OK)
        if c.p1 == 0x04:
            if c.data not in self.dfs or c.data == MF:
                return sw(SW.FILE_NOT_FOUND)
            self._df, self._ef = c.data, None
            return sw(SW.OK)
        if c.p1 == 0x02 and len(c.data) == 2:
            fid = int.from_bytes(c.data, "big")
            if fid not in self.dfs[self._df].files:
                return sw(SW.FILE_NOT_FOUND)
            self._ef = fid
            return sw(SW.OK)
        return sw(SW.WRONG_P1P2)

    # --- READ BINARY --------------------------------------------------------------------------------

    def locate(self, c: Apdu) -> tuple[JpFile | None, int, int]:
        """(file, offset, status) for a READ BINARY's P1/P2; status 9000 when the file was found."""
        files = self.dfs[self._df].files
        if c.p1 & 0x80:
            sfi, offset = c.p1 & 0x1F, c.p2
            found = [(fid, f) for fid, f in files.items() if f.sfi == sfi]
            if not found:
                return None, 0, SW.FILE_NOT_FOUND
            self._ef = found[0][0]
            return found[0][1], offset, SW.OK
        if self._ef is None:
            return None, 0, SW.CONDITIONS_NOT_SATISFIED
        return files[self._ef], (c.p1 << 8) | c.p2, SW.OK

    def _read_binary(self, c: Apdu, *, secure: bool) -> bytes:
        target, offset, status = self.locate(c)
        if target is None:
            return sw(status)
        if target.secure_messaging and not secure:
            return sw(SW.SECURITY_NOT_SATISFIED)
        if not target.read_keys <= self.verified:
            return sw(SW.SECURITY_NOT_SATISFIED)
        if offset > len(target.data):
            return sw(SW.WRONG_OFFSET)
        chunk = target.data[offset : offset + (c.le or 256)]
        return sw(SW.OK, chunk)

    # --- VERIFY -------------------------------------------------------------------------------------

    def _verify(self, c: Apdu) -> bytes:
        key = self.keys.get(c.p2)
        if key is None:
            return sw(SW.WRONG_P1P2)
        if key.tries_left == 0:
            return sw(SW.AUTH_METHOD_BLOCKED)
        if not c.data:
            # A VERIFY without data asks for the tries left without spending one.
            if c.p2 in self.verified:
                return sw(SW.OK)
            return sw(0x63C0 | (key.tries_left if key.tries_left is not None else 0x0F))
        return self.check_key(c.p2, key, c.data)

    def check_key(self, reference: int, key: JpKey, presented: bytes) -> bytes:
        """Compare a presented secret, count a wrong one, and answer 9000, 63Cx or 6983."""
        if presented == key.secret:
            if key.tries_left is not None:
                key.tries_left = 3
            self.verified.add(reference)
            return sw(SW.OK)
        self.verified.discard(reference)
        if key.tries_left is None:
            return sw(0x6300)
        key.tries_left = max(0, key.tries_left - 1)
        return sw(SW.AUTH_METHOD_BLOCKED if key.tries_left == 0 else 0x63C0 | key.tries_left)
