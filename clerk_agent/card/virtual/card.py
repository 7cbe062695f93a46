"""The Virtual My Number Card: files, access rules, PIN counters and signing of the JPKI, Kenhojo and Kenkaku APs.

Behaviour follows docs/card.md §1. Volatile state (selected DF/EF, verified keys) is cleared on
power-on and reset, as on the real card; retry counters persist. Every APDU is recorded, and any attempt to
select or read the My Number (Kenhojo EF 0001, Kenkaku EF 0005) or to present it as 照合番号A is reported as
a violation: to an in-process list and, when MADOGUCHI_APDU_VIOLATIONS_FILE names a file, to that file, so
that tests/plugins/apdu_guard.py can fail the whole test session.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

from clerk_agent.card.apdu import SW
from clerk_agent.card.protocol import FORBIDDEN_FILES, JPKI_AID, KENHOJO_AID, KENKAKU_AID
from clerk_agent.card.virtual.command import Apdu as _Command
from clerk_agent.card.virtual.command import parse_apdu as _parse
from clerk_agent.card.virtual.command import sw as _sw
from clerk_agent.card.virtual.signing import CardKey, pkcs1v15_sign_raw, signed_response

ATR = bytes.fromhex("3BE000FF8131FE4514")
VIOLATIONS_ENV = "MADOGUCHI_APDU_VIOLATIONS_FILE"

_violations: list[str] = []
_violations_lock = threading.Lock()


def recorded_violations() -> list[str]:
    """Every My Number access attempt seen by any virtual card in this process."""
    with _violations_lock:
        return list(_violations)


def record_violation(description: str) -> None:
    """Report a My Number access attempt to the process list and the session file, if configured."""
    with _violations_lock:
        _violations.append(description)
    target = os.environ.get(VIOLATIONS_ENV)
    if target:
        with Path(target).open("a", encoding="utf-8") as out:
            out.write(description + "\n")


@dataclass
class ElementaryFile:
    """A transparent EF; `read_keys` empty means free to read, else any one of those keys must be verified."""

    data: bytes
    read_keys: frozenset[int] = frozenset()
    capacity: int | None = None  # the EF's allocated size; the data is padded with FF up to it

    def content(self) -> bytes:
        """The bytes READ BINARY sees."""
        if self.capacity is None or self.capacity <= len(self.data):
            return self.data
        return self.data + b"\xff" * (self.capacity - len(self.data))


@dataclass
class KeyReference:
    """A PIN or access code; `tries_left` survives power cycles, as on the card."""

    secret: bytes
    max_tries: int
    tries_left: int = -1
    carries_my_number: bool = False  # 照合番号A is the My Number itself

    def __post_init__(self) -> None:
        if self.tries_left < 0:
            self.tries_left = self.max_tries


@dataclass
class PrivateKey:
    """A signing key EF, usable after `required_key` was verified."""

    key: CardKey  # RSA-2048 on the current card, ECDSA P-384 on the next (signing.signed_response)
    required_key: int


@dataclass
class Application:
    """One DF: its files, key references and signing keys."""

    aid: bytes
    files: dict[int, ElementaryFile] = field(default_factory=dict)
    keys: dict[int, KeyReference] = field(default_factory=dict)
    private_keys: dict[int, PrivateKey] = field(default_factory=dict)
    # The AP's own key (券面事項確認AP: the key whose public part is DF24 of the signed card face); it answers
    # COMPUTE DIGITAL SIGNATURE with P2=00 without any credential, so a relying party can challenge the card.
    own_key: CardKey | None = None


class CardAddOn(Protocol):
    """An applet beside the APs (the card-management applet, admin.py): sees every APDU first."""

    def process(self, card: VirtualMyNumberCard, apdu: bytes) -> bytes | None:
        """Its answer, or None to let the card answer."""
        ...

    def power_on(self) -> None:
        """Forget what a power cycle forgets."""
        ...


class VirtualMyNumberCard:
    """An emulated My Number Card. `process` takes a C-APDU and returns data‖SW; thread-safe."""

    def __init__(
        self,
        applications: list[Application],
        *,
        atr: bytes = ATR,
        short_ef_ids: bool = True,
        violation_sink: Callable[[str], None] | None = None,
        label: str = "virtual card",
    ) -> None:
        self.applications = {app.aid: app for app in applications}
        self.atr = atr
        self.short_ef_ids = short_ef_ids
        self.label = label
        self.apdu_log: list[bytes] = []
        self._violation_sink = violation_sink or record_violation
        self._lock = threading.Lock()
        self._df: Application | None = None
        self._ef: int | None = None
        self._verified: set[tuple[bytes, int]] = set()
        self.admin: CardAddOn | None = None  # the card-management applet, when installed (docs/card-admin.md)

    # --- power ------------------------------------------------------------------------------------

    def power_on(self) -> None:
        """Cold start: nothing selected, nothing verified."""
        with self._lock:
            self._df, self._ef = None, None
            self._verified.clear()
            if self.admin is not None:
                self.admin.power_on()

    def reset(self) -> None:
        """Warm reset; same effect as power-on for this card."""
        self.power_on()

    power_off = power_on

    # --- dispatch ---------------------------------------------------------------------------------

    def process(self, apdu: bytes) -> bytes:
        """Execute one command APDU."""
        with self._lock:
            self.apdu_log.append(bytes(apdu))
            if self.admin is not None and (answer := self.admin.process(self, bytes(apdu))) is not None:
                return answer
            command = _parse(apdu)
            if command is None:
                return _sw(SW.WRONG_LENGTH)
            handler = {
                (0x00, 0xA4): self._select,
                (0x00, 0xB0): self._read_binary,
                (0x00, 0x20): self._verify,
                (0x00, 0x24): self._change_reference_data,
                (0x80, 0x2A): self._compute_signature,
            }.get((command.cla, command.ins))
            if handler is None:
                known_ins = command.ins in (0xA4, 0xB0, 0x20, 0x24, 0x2A)
                return _sw(SW.CLA_NOT_SUPPORTED if known_ins else SW.INS_NOT_SUPPORTED)
            return handler(command)

    def _violation(self, what: str) -> None:
        self._violation_sink(f"{self.label}: {what}")

    def _check_forbidden(self, fid: int, how: str) -> None:
        if self._df is not None and (self._df.aid, fid) in FORBIDDEN_FILES:
            self._violation(f"{how} of My Number file EF {fid:04X} in {self._df.aid.hex().upper()}")

    # --- SELECT -----------------------------------------------------------------------------------

    def _select(self, c: _Command) -> bytes:
        if c.p1 == 0x04 and c.p2 == 0x0C:
            app = self.applications.get(c.data)
            if app is None:
                return _sw(SW.FILE_NOT_FOUND)
            self._df, self._ef = app, None
            return _sw(SW.OK)
        if c.p1 == 0x02 and c.p2 == 0x0C:
            if len(c.data) != 2:
                return _sw(SW.WRONG_LENGTH)
            fid = int.from_bytes(c.data, "big")
            self._check_forbidden(fid, "SELECT EF")
            if self._df is None or not (
                fid in self._df.files or fid in self._df.keys or fid in self._df.private_keys
            ):
                return _sw(SW.FILE_NOT_FOUND)
            self._ef = fid
            return _sw(SW.OK)
        if c.p1 == 0x00 and c.p2 == 0x00:
            # SELECT MF answers 9000 but leaves the current DF as it was (docs/card.md §1.7).
            return _sw(SW.OK)
        return _sw(SW.WRONG_P1P2)

    # --- READ BINARY ------------------------------------------------------------------------------

    def _read_binary(self, c: _Command) -> bytes:
        if c.data:
            return _sw(SW.WRONG_LENGTH)
        if c.p1 & 0x80:
            if not self.short_ef_ids or c.p1 & 0x60:
                return _sw(SW.WRONG_P1P2)
            fid = c.p1 & 0x1F
            offset = c.p2
            self._check_forbidden(fid, "READ BINARY (SFI)")
            if self._df is None or fid not in self._df.files:
                return _sw(SW.FILE_NOT_FOUND)
            self._ef = fid
        else:
            offset = (c.p1 << 8) | c.p2
            if self._df is None or self._ef is None or self._ef not in self._df.files:
                return _sw(SW.CONDITIONS_NOT_SATISFIED)
            fid = self._ef
            self._check_forbidden(fid, "READ BINARY")
        ef = self._df.files[fid]
        if ef.read_keys and not any((self._df.aid, key) in self._verified for key in ef.read_keys):
            return _sw(SW.SECURITY_NOT_SATISFIED)
        content = ef.content()
        if offset >= len(content):
            return _sw(SW.WRONG_OFFSET)
        le = c.le if c.le is not None else 256
        chunk = content[offset : offset + le]
        return _sw(SW.OK if len(chunk) == le else SW.END_OF_FILE, chunk)

    # --- VERIFY -----------------------------------------------------------------------------------

    def _key_for(self, p2: int) -> tuple[Application, int] | None:
        if self._df is None:
            return None
        if p2 == 0x80:
            fid = self._ef
        elif p2 & 0x80 and self.short_ef_ids:
            fid = p2 & 0x1F
        else:
            return None
        if fid is None:
            return None
        return self._df, fid

    def _verify(self, c: _Command) -> bytes:
        if c.p1 != 0x00 or not c.p2 & 0x80 or (c.p2 != 0x80 and not self.short_ef_ids):
            return _sw(SW.WRONG_P1P2)
        found = self._key_for(c.p2)
        if found is None or found[1] not in found[0].keys:
            return _sw(0x6A88)  # referenced data not found
        app, fid = found
        key = app.keys[fid]
        if not c.data:
            if (app.aid, fid) in self._verified:
                return _sw(SW.OK)
            return _sw(0x63C0 | key.tries_left)
        if key.carries_my_number:
            self._violation(f"VERIFY presenting the My Number (照合番号A, key {fid:04X})")
        if key.tries_left == 0:
            return _sw(SW.REFERENCE_DATA_BLOCKED)
        if c.data == key.secret:
            key.tries_left = key.max_tries
            self._verified.add((app.aid, fid))
            return _sw(SW.OK)
        key.tries_left -= 1
        self._verified.discard((app.aid, fid))
        return _sw(0x63C0 | key.tries_left)

    # --- CHANGE REFERENCE DATA --------------------------------------------------------------------

    def _change_reference_data(self, c: _Command) -> bytes:
        # P1=01: the new PIN only, allowed once the current one was verified in this session (the holder's own
        # change). A reset without the current PIN needs the issuer's authority and is not done here.
        if c.p1 != 0x01 or not c.p2 & 0x80 or (c.p2 != 0x80 and not self.short_ef_ids):
            return _sw(SW.WRONG_P1P2)
        found = self._key_for(c.p2)
        if found is None or found[1] not in found[0].keys:
            return _sw(0x6A88)
        app, fid = found
        key = app.keys[fid]
        if key.carries_my_number:
            self._violation(f"CHANGE REFERENCE DATA on the My Number key {fid:04X}")
            return _sw(SW.SECURITY_NOT_SATISFIED)
        if (app.aid, fid) not in self._verified:
            return _sw(SW.SECURITY_NOT_SATISFIED)
        if not 4 <= len(c.data) <= 16:
            return _sw(SW.WRONG_LENGTH)
        key.secret = bytes(c.data)
        key.tries_left = key.max_tries
        return _sw(SW.OK)

    # --- COMPUTE DIGITAL SIGNATURE ----------------------------------------------------------------

    def _compute_signature(self, c: _Command) -> bytes:
        if c.p1 != 0x00:
            return _sw(SW.WRONG_P1P2)
        if c.p2 == 0x00:
            return self._answer_with_own_key(c)
        found = self._key_for(c.p2)
        if found is None or found[1] not in found[0].private_keys:
            return _sw(SW.WRONG_P1P2 if found is None else 0x6A88)
        app, fid = found
        private = app.private_keys[fid]
        if (app.aid, private.required_key) not in self._verified:
            return _sw(SW.SECURITY_NOT_SATISFIED)
        if not isinstance(private.key, rsa.RSAPrivateKey):
            return signed_response(private.key, c.data)  # the next generation's P-384 key
        if not 1 <= len(c.data) <= 245:
            return _sw(SW.WRONG_LENGTH)
        return _sw(SW.OK, pkcs1v15_sign_raw(private.key, c.data))

    def _answer_with_own_key(self, c: _Command) -> bytes:
        # No key EF and no VERIFY: the AP's own key signs any DigestInfo it is given (docs/card-face-binding.md).
        if self._df is None or self._df.own_key is None:
            return _sw(SW.WRONG_P1P2)
        if not isinstance(self._df.own_key, rsa.RSAPrivateKey):
            return signed_response(self._df.own_key, c.data)
        if not 1 <= len(c.data) <= 245:
            return _sw(SW.WRONG_LENGTH)
        return _sw(SW.OK, pkcs1v15_sign_raw(self._df.own_key, c.data))

    # --- for the card-management applet (called under the lock) ---------------------------------------

    @property
    def current_application(self) -> Application | None:
        """The selected DF."""
        return self._df

    def deselect(self) -> None:
        """No DF selected (another applet was)."""
        self._df, self._ef = None, None

    def forget_verified(self, aid: bytes, fid: int) -> None:
        """A key whose reference data changed is no longer verified."""
        self._verified.discard((aid, fid))

    # --- helpers for tests and the CLI ------------------------------------------------------------

    def key(self, aid: bytes, fid: int) -> KeyReference:
        """A key reference, e.g. to set its counter in a test."""
        return self.applications[aid].keys[fid]

    def file(self, aid: bytes, fid: int) -> ElementaryFile:
        """An EF, e.g. to replace its content in a test."""
        return self.applications[aid].files[fid]


__all__ = [
    "ATR",
    "JPKI_AID",
    "KENHOJO_AID",
    "KENKAKU_AID",
    "VIOLATIONS_ENV",
    "Application",
    "ElementaryFile",
    "KeyReference",
    "PrivateKey",
    "VirtualMyNumberCard",
    "record_violation",
    "recorded_violations",
]
