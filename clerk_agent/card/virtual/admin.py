"""The card-management applet of the Virtual My Number Card: the card side of the issuer's SCP03 channel.

Under an authenticated channel (C-MAC, C-DECRYPTION, R-MAC, R-ENCRYPTION) the issuer may generate a new key pair
on the card into a pending slot, have the pending key sign (its CSR), write the new certificate beside it, and
commit: one command swaps every pending pair in and destroys the old ones, so the card is either as it was or fully
new. The pending slot and the channel are volatile: a power cut or removal loses them, never the active pair. The
issuer may also open a one-time authorisation to reset a named PIN; the new PIN then comes in the plain RESET
RETRY COUNTER from the counter, and never passes through the issuer (docs/card-admin.md).

The applet's static keys are the card's own diversified keys, handed in at build time as a factory would.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clerk_agent.card.apdu import SW
from clerk_agent.card.virtual.card import PrivateKey
from clerk_agent.card.virtual.signing import pkcs1v15_sign_raw
from service.wire import cardadmin as ca
from service.wire import scp03

if TYPE_CHECKING:
    from clerk_agent.card.virtual.card import VirtualMyNumberCard

# Where each slot's key and certificate live (docs/card.md §1.2).
SLOT_FILES: dict[int, tuple[bytes, int, int, int]] = {
    # slot: (AP, key EF, certificate EF, PIN the key needs)
    1: (ca.JPKI_AID, 0x0017, 0x000A, 0x0018),
    2: (ca.JPKI_AID, 0x001A, 0x0001, 0x001B),
}
_SECURE = 0x6982


def _sw(sw: int, data: bytes = b"") -> bytes:
    return data + sw.to_bytes(2, "big")


@dataclass
class _Pending:
    key: rsa.RSAPrivateKey
    certificate: bytearray = field(default_factory=bytearray)
    chunks: int = 0


class CardAdminApplet:
    """The card side; `process` answers the commands it owns and returns None for the card's ordinary ones."""

    def __init__(self, keys: scp03.StaticKeys, diversification: bytes, *, key_size: int = 2048) -> None:
        if len(diversification) != 10:
            raise ValueError("key diversification data is 10 bytes")
        self._keys = keys
        self.diversification = diversification
        self.key_size = key_size
        self.refusals = 0  # channel refusals seen (tests read it)
        self.commits = 0
        # Every session's keys, so a test can search the hub's records and logs for them; never used otherwise.
        self.sessions_seen: list[scp03.SessionKeys] = []
        self._selected = False
        self._challenges: tuple[bytes, bytes] | None = None
        self._channel: scp03.ChannelState | None = None
        self._pending: dict[int, _Pending] = {}
        self._output = b""
        self._authorised: set[tuple[bytes, int]] = set()
        self._authenticated = False
        self._changes: dict[tuple[bytes, int], int] = {}  # PIN resets done, per key (STATUS reports them)

    # --- power ------------------------------------------------------------------------------------

    def power_on(self) -> None:
        """Cold start or removal: the channel, the pending slot and any PIN authorisation are gone."""
        self._selected = False
        self._close()
        self._authorised.clear()

    def _close(self) -> None:
        self._challenges, self._channel = None, None
        self._pending.clear()
        self._output = b""

    @property
    def pending_slots(self) -> list[int]:
        """The slots holding a pending pair (tests)."""
        return sorted(self._pending)

    # --- dispatch ---------------------------------------------------------------------------------

    def process(self, card: VirtualMyNumberCard, apdu: bytes) -> bytes | None:
        """Answer `apdu` if it is this applet's; None lets the card handle it."""
        if len(apdu) < 4:
            return None
        cla, ins, p1 = apdu[0], apdu[1], apdu[2]
        if cla == 0x00 and ins == 0xA4 and p1 == 0x04:
            return self._select(card, apdu)
        if cla == 0x00 and ins == ca.INS_RESET_RETRY_COUNTER:
            return self._reset_retry_counter(card, apdu)
        if not self._selected:
            return None
        if cla == 0x80 and ins == scp03.INS_INITIALIZE_UPDATE:
            return self._initialize_update(apdu)
        if cla == 0x84 and ins == scp03.INS_EXTERNAL_AUTHENTICATE:
            return self._external_authenticate(apdu)
        if cla & 0x04 and cla & 0xF0 == 0x80:
            return self._secured(card, apdu)
        return _sw(SW.CLA_NOT_SUPPORTED)

    def _select(self, card: VirtualMyNumberCard, apdu: bytes) -> bytes | None:
        aid = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        if aid != ca.ADMIN_AID:
            # Selecting any other application ends the session (as on a GlobalPlatform card's logical channel).
            self._selected = False
            self._close()
            return None
        card.deselect()
        self._selected = True
        self._close()
        return _sw(SW.OK)

    def _refuse(self, sw: int = _SECURE) -> bytes:
        # Any failed check ends the session and drops what was pending: the card stays exactly as it was.
        self.refusals += 1
        self._close()
        return _sw(sw)

    # --- opening the channel ----------------------------------------------------------------------

    def _initialize_update(self, apdu: bytes) -> bytes:
        if len(apdu) < 5 + scp03.CHALLENGE_LEN or apdu[4] != scp03.CHALLENGE_LEN:
            return _sw(SW.WRONG_LENGTH)
        if apdu[2] not in (0x00, scp03.KEY_VERSION):
            return _sw(0x6A88)
        self._close()
        host_challenge = apdu[5 : 5 + scp03.CHALLENGE_LEN]
        card_challenge = os.urandom(scp03.CHALLENGE_LEN)
        keys = scp03.session_keys(self._keys, host_challenge, card_challenge)
        self.sessions_seen.append(keys)
        self._challenges = (host_challenge, card_challenge)
        self._channel = scp03.ChannelState(keys)
        self._authenticated = False
        answer = scp03.InitializeUpdateAnswer(
            self.diversification,
            scp03.KEY_VERSION,
            card_challenge,
            scp03.card_cryptogram(keys, host_challenge, card_challenge),
        )
        return _sw(SW.OK, answer.encode())

    def _external_authenticate(self, apdu: bytes) -> bytes:
        if self._channel is None or self._challenges is None or self._authenticated:
            return self._refuse(SW.CONDITIONS_NOT_SATISFIED)
        try:
            scp03.check_external_authenticate(self._channel, apdu, *self._challenges)
        except scp03.SecureChannelError:
            return self._refuse()
        self._authenticated = True
        return _sw(SW.OK)

    # --- commands under the channel ---------------------------------------------------------------

    def _secured(self, card: VirtualMyNumberCard, apdu: bytes) -> bytes:
        channel = self._channel
        if channel is None or not self._authenticated:
            return self._refuse()
        try:
            plain = scp03.unwrap_command(channel, apdu)
        except scp03.SecureChannelError:
            return self._refuse()
        ins, p1, p2 = plain[1], plain[2], plain[3]
        data = plain[5 : 5 + plain[4]] if len(plain) > 5 else b""
        handlers = {
            ca.INS_GENERATE_PENDING: self._generate,
            ca.INS_SIGN_PENDING: self._sign,
            ca.INS_WRITE_PENDING_CERTIFICATE: self._write_certificate,
            ca.INS_COMMIT: self._commit,
            ca.INS_AUTHORISE_PIN: self._authorise_pin,
            ca.INS_STATUS: self._status,
            ca.INS_READ_OUTPUT: self._read_output,
        }
        handler = handlers.get(ins)
        if handler is None:
            return scp03.wrap_response(channel, b"", SW.INS_NOT_SUPPORTED)
        sw, output = handler(card, p1, p2, data)
        if ins != ca.INS_READ_OUTPUT and sw == SW.OK:
            self._output = output
            output = len(output).to_bytes(2, "big") + output[: ca.OUTPUT_CHUNK]
        if self._channel is None:  # the handler refused and closed the session
            return _sw(sw)
        return scp03.wrap_response(channel, output, sw)

    def _generate(self, _card: VirtualMyNumberCard, slot: int, _p2: int, _data: bytes) -> tuple[int, bytes]:
        if slot not in SLOT_FILES:
            return SW.WRONG_P1P2, b""
        key = rsa.generate_private_key(public_exponent=65537, key_size=self.key_size)
        self._pending[slot] = _Pending(key)
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return SW.OK, spki

    def _sign(self, _card: VirtualMyNumberCard, slot: int, _p2: int, data: bytes) -> tuple[int, bytes]:
        pending = self._pending.get(slot)
        if pending is None:
            return SW.CONDITIONS_NOT_SATISFIED, b""
        if not 1 <= len(data) <= 245:
            return SW.WRONG_LENGTH, b""
        return SW.OK, pkcs1v15_sign_raw(pending.key, data)

    def _write_certificate(
        self, _card: VirtualMyNumberCard, slot: int, index: int, data: bytes
    ) -> tuple[int, bytes]:
        pending = self._pending.get(slot)
        if pending is None or index != pending.chunks or len(pending.certificate) + len(data) > 0x0800:
            return SW.CONDITIONS_NOT_SATISFIED, b""
        pending.certificate += data
        pending.chunks += 1
        return SW.OK, b""

    def _commit(self, card: VirtualMyNumberCard, _p1: int, _p2: int, data: bytes) -> tuple[int, bytes]:
        if len(data) % 33 or not data:
            return SW.WRONG_LENGTH, b""
        expected = {data[i]: data[i + 1 : i + 33] for i in range(0, len(data), 33)}
        if set(expected) != set(self._pending):
            return SW.CONDITIONS_NOT_SATISFIED, b""
        for slot, digest in expected.items():
            pending = self._pending[slot]
            certificate = bytes(pending.certificate)
            if not hmac.compare_digest(hashlib.sha256(certificate).digest(), digest):
                return SW.CONDITIONS_NOT_SATISFIED, b""
            try:
                public = x509.load_der_x509_certificate(certificate).public_key()
            except ValueError:
                return SW.CONDITIONS_NOT_SATISFIED, b""
            if public != pending.key.public_key():
                return SW.CONDITIONS_NOT_SATISFIED, b""
        # Every check passed: now the swap, all slots in one step (the emulator's lock makes it atomic).
        for slot in expected:
            aid, key_ef, cert_ef, _pin = SLOT_FILES[slot]
            pending = self._pending.pop(slot)
            app = card.applications[aid]
            app.private_keys[key_ef] = PrivateKey(pending.key, app.private_keys[key_ef].required_key)
            app.files[cert_ef] = replace(app.files[cert_ef], data=bytes(pending.certificate))
        self.commits += 1
        return SW.OK, self._status_bytes(card)

    def _authorise_pin(self, card: VirtualMyNumberCard, _p1: int, _p2: int, data: bytes) -> tuple[int, bytes]:
        try:
            target = ca.PIN_TARGETS[ca.PinName(data.decode("ascii"))]
        except (UnicodeDecodeError, ValueError):
            return SW.WRONG_P1P2, b""
        if target.aid not in card.applications or target.key_id not in card.applications[target.aid].keys:
            return 0x6A88, b""
        self._authorised.add((target.aid, target.key_id))
        return SW.OK, self._status_bytes(card)

    def _status(self, card: VirtualMyNumberCard, _p1: int, _p2: int, _data: bytes) -> tuple[int, bytes]:
        return SW.OK, self._status_bytes(card)

    def _read_output(self, _card: VirtualMyNumberCard, p1: int, p2: int, _data: bytes) -> tuple[int, bytes]:
        offset = (p1 << 8) | p2
        if offset >= len(self._output):
            return SW.WRONG_OFFSET, b""
        return SW.OK, self._output[offset : offset + ca.OUTPUT_CHUNK]

    def _status_bytes(self, card: VirtualMyNumberCard) -> bytes:
        certificates = {}
        for slot, (aid, _key_ef, cert_ef, _pin) in SLOT_FILES.items():
            files = card.applications[aid].files
            if cert_ef in files:
                data = files[cert_ef].data
                serial = x509.load_der_x509_certificate(data).serial_number
                certificates[str(slot)] = {
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "serial": f"{serial:x}",
                }
        pins = {}
        for name, target in ca.PIN_TARGETS.items():
            app = card.applications.get(target.aid)
            if app is None or target.key_id not in app.keys:
                continue
            key = app.keys[target.key_id]
            pins[name.value] = {
                "tries": key.tries_left,
                "max": key.max_tries,
                "authorised": (target.aid, target.key_id) in self._authorised,
                "changes": self._changes.get((target.aid, target.key_id), 0),
            }
        return json.dumps({"certificates": certificates, "pins": pins}, separators=(",", ":")).encode()

    # --- the PIN itself, in the clear from the counter --------------------------------------------

    def _reset_retry_counter(self, card: VirtualMyNumberCard, apdu: bytes) -> bytes:
        app = card.current_application
        if apdu[2] != 0x02 or not apdu[3] & 0x80 or app is None or len(apdu) < 6:
            return _sw(SW.WRONG_P1P2)
        key_id = apdu[3] & 0x1F
        new_pin = apdu[5 : 5 + apdu[4]]
        if (app.aid, key_id) not in self._authorised or key_id not in app.keys:
            return _sw(SW.SECURITY_NOT_SATISFIED)
        target = next(t for t in ca.PIN_TARGETS.values() if (t.aid, t.key_id) == (app.aid, key_id))
        if not target.valid(new_pin):
            return _sw(0x6A80)  # incorrect data: the authorisation stays for a corrected try
        self._authorised.discard((app.aid, key_id))
        key = app.keys[key_id]
        key.secret, key.tries_left = bytes(new_pin), key.max_tries
        card.forget_verified(app.aid, key_id)
        self._changes[(app.aid, key_id)] = self._changes.get((app.aid, key_id), 0) + 1
        return _sw(SW.OK)


def install(card: VirtualMyNumberCard, keys: scp03.StaticKeys, diversification: bytes) -> CardAdminApplet:
    """Put the management applet on `card` with its own diversified keys (what the card factory does)."""
    applet = CardAdminApplet(keys, diversification)
    card.admin = applet
    return applet


def factory_install(card: VirtualMyNumberCard, pki_dir: Path, serial: str) -> CardAdminApplet:
    """The applet as the simulated card factory puts it: keys diversified from the `hub dev-pki` master key.

    `serial` names the card (its 10-byte diversification data is derived from it); the issuer simulator at the hub
    finds the same keys from the diversification data the card answers with (docs/card-admin.md §Keys).
    """
    diversification = hashlib.sha256(f"card:{serial}".encode()).digest()[:10]
    keys = scp03.diversify(scp03.load_master_key(pki_dir), diversification)
    return install(card, keys, diversification)
