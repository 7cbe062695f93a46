"""GlobalPlatform SCP03 (Card Specification 2.3, Amendment D) on AES: the primitives both ends of the channel use.

The issuer's hub holds the host side, the card the card side; both are the same arithmetic, so it lives once, here.
This module imports nothing from the hub or the agent (only `cryptography`), which is why it sits in `service/wire`:
what crosses the counter is exactly what these functions produce. The counter agent never imports it — it relays
the bytes opaque and holds no key (tests/test_boundaries.py checks that only the virtual card does).
docs/card-admin.md §Channel explains the choices: security level 33 (C-MAC, C-DECRYPTION, R-MAC, R-ENCRYPTION),
a random card challenge (i = 60), AES-128 keys.
"""

from __future__ import annotations

import hmac
import os
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import cmac as _cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
MAC_LEN = 8
CHALLENGE_LEN = 8
CRYPTOGRAM_LEN = 8
# C-MAC | C-DECRYPTION | R-MAC | R-ENCRYPTION (Amd D §5.1): everything both ways is authenticated and encrypted.
SECURITY_LEVEL = 0x33
SCP_ID = 0x03
# i parameter: random card challenge, R-MAC and R-ENCRYPTION supported (Amd D §5.1, bits b6 and b7).
SCP_I = 0x60
KEY_VERSION = 0x30

INS_INITIALIZE_UPDATE = 0x50
INS_EXTERNAL_AUTHENTICATE = 0x82

# Data derivation constants (Amd D §4.1.5).
DDC_CARD_CRYPTOGRAM = 0x00
DDC_HOST_CRYPTOGRAM = 0x01
DDC_S_ENC = 0x04
DDC_S_MAC = 0x06
DDC_S_RMAC = 0x07


class SecureChannelError(Exception):
    """A MAC, cryptogram or padding did not check out: the other side, or someone between, is not who it claims."""


def cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B), the full 16 bytes."""
    mac = _cmac.CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def kdf(key: bytes, constant: int, context: bytes, bits: int) -> bytes:
    """NIST SP 800-108 KDF in counter mode with AES-CMAC as PRF, laid out as Amd D §4.1.5 says.

    Each block's input: an 11-byte zero label, the derivation constant, a zero separator, L (bits, 2 bytes), the
    counter i (1 byte, from 1), and the context (host challenge ‖ card challenge).
    """
    out = b""
    counter = 1
    while len(out) * 8 < bits:
        block = bytes(11) + bytes((constant, 0)) + struct.pack(">HB", bits, counter) + context
        out += cmac(key, block)
        counter += 1
    return out[: bits // 8]


@dataclass(frozen=True)
class StaticKeys:
    """A card's static key set (key version KEY_VERSION): encryption, MAC, and the data-encryption key."""

    enc: bytes
    mac: bytes
    dek: bytes


@dataclass(frozen=True)
class SessionKeys:
    """The keys of one session, derived from the static keys and both challenges."""

    enc: bytes
    mac: bytes
    rmac: bytes


def session_keys(static: StaticKeys, host_challenge: bytes, card_challenge: bytes) -> SessionKeys:
    """S-ENC, S-MAC and S-RMAC for one session (their length follows the static keys')."""
    context = host_challenge + card_challenge
    bits = len(static.enc) * 8
    return SessionKeys(
        enc=kdf(static.enc, DDC_S_ENC, context, bits),
        mac=kdf(static.mac, DDC_S_MAC, context, bits),
        rmac=kdf(static.mac, DDC_S_RMAC, context, bits),
    )


def card_cryptogram(keys: SessionKeys, host_challenge: bytes, card_challenge: bytes) -> bytes:
    """What the card proves it holds the keys with (INITIALIZE UPDATE's answer)."""
    return kdf(keys.mac, DDC_CARD_CRYPTOGRAM, host_challenge + card_challenge, 64)


def host_cryptogram(keys: SessionKeys, host_challenge: bytes, card_challenge: bytes) -> bytes:
    """What the host proves it holds the keys with (EXTERNAL AUTHENTICATE's data)."""
    return kdf(keys.mac, DDC_HOST_CRYPTOGRAM, host_challenge + card_challenge, 64)


def _pad(data: bytes) -> bytes:
    padded = data + b"\x80"
    return padded + bytes(-len(padded) % BLOCK)


def _unpad(data: bytes) -> bytes:
    end = data.rstrip(b"\x00")
    if not end.endswith(b"\x80"):
        raise SecureChannelError("bad padding")
    return end[:-1]


def _ecb(key: bytes, block: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - one block: the ICV (Amd D §6.2.6)
    return encryptor.update(block) + encryptor.finalize()


def _cbc(key: bytes, icv: bytes, data: bytes, *, decrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(icv))
    worker = cipher.decryptor() if decrypt else cipher.encryptor()
    return worker.update(data) + worker.finalize()


@dataclass
class ChannelState:
    """One open session as either end keeps it: its keys, the MAC chaining value and the encryption counter.

    Serialisable (`to_bytes`) so that the hub can keep it sealed between two relayed round trips, possibly on
    another replica. It is the session's secret: never logged, stored only encrypted.
    """

    keys: SessionKeys
    chaining: bytes = bytes(BLOCK)
    counter: int = 0
    last_cmac: bytes = bytes(BLOCK)

    def to_bytes(self) -> bytes:
        """The state as bytes (keys, chaining value, counter)."""
        size = len(self.keys.enc)
        return (
            bytes((size,))
            + self.keys.enc
            + self.keys.mac
            + self.keys.rmac
            + self.chaining
            + self.last_cmac
            + self.counter.to_bytes(4, "big")
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> ChannelState:
        """The inverse of `to_bytes`."""
        size = raw[0]
        keys = SessionKeys(raw[1 : 1 + size], raw[1 + size : 1 + 2 * size], raw[1 + 2 * size : 1 + 3 * size])
        rest = raw[1 + 3 * size :]
        return cls(
            keys,
            rest[:BLOCK],
            int.from_bytes(rest[2 * BLOCK : 2 * BLOCK + 4], "big"),
            rest[BLOCK : 2 * BLOCK],
        )

    def _icv(self, *, response: bool) -> bytes:
        block = self.counter.to_bytes(BLOCK, "big")
        if response:
            block = b"\x80" + block[1:]
        return _ecb(self.keys.enc, block)

    def _mac(self, header: bytes, body: bytes) -> bytes:
        full = cmac(self.keys.mac, self.chaining + header + bytes((len(body) + MAC_LEN,)) + body)
        return full


def _header(apdu: bytes) -> bytes:
    cla, ins, p1, p2 = apdu[:4]
    return bytes((cla | 0x04, ins, p1, p2))


def _short_body(apdu: bytes) -> tuple[bytes, bool]:
    """The data field of a short case 1-4 APDU and whether it asked for response data (Le present)."""
    body = apdu[4:]
    if not body:
        return b"", False
    if len(body) == 1:
        return b"", True
    lc = body[0]
    if len(body) not in (1 + lc, 2 + lc):
        raise ValueError("not a short APDU")
    return bytes(body[1 : 1 + lc]), len(body) == 2 + lc


def external_authenticate(state: ChannelState, host_challenge: bytes, card_challenge: bytes) -> bytes:
    """Host side: EXTERNAL AUTHENTICATE at SECURITY_LEVEL, MAC-only (the first C-MAC, chaining from zero)."""
    cryptogram = host_cryptogram(state.keys, host_challenge, card_challenge)
    header = bytes((0x84, INS_EXTERNAL_AUTHENTICATE, SECURITY_LEVEL, 0x00))
    full = state._mac(header, cryptogram)
    state.chaining = full
    state.last_cmac = full
    return header + bytes((len(cryptogram) + MAC_LEN,)) + cryptogram + full[:MAC_LEN]


def check_external_authenticate(
    state: ChannelState, apdu: bytes, host_challenge: bytes, card_challenge: bytes
) -> None:
    """Card side: the host's cryptogram and C-MAC; raises SecureChannelError when either is wrong."""
    if len(apdu) != 5 + CRYPTOGRAM_LEN + MAC_LEN or apdu[4] != CRYPTOGRAM_LEN + MAC_LEN:
        raise SecureChannelError("EXTERNAL AUTHENTICATE has the wrong length")
    if apdu[2] != SECURITY_LEVEL:
        raise SecureChannelError("security level other than C-MAC, C-DEC, R-MAC, R-ENC")
    cryptogram, mac = apdu[5 : 5 + CRYPTOGRAM_LEN], apdu[5 + CRYPTOGRAM_LEN :]
    full = state._mac(_header(apdu), cryptogram)
    expected = host_cryptogram(state.keys, host_challenge, card_challenge)
    if not (hmac.compare_digest(cryptogram, expected) and hmac.compare_digest(mac, full[:MAC_LEN])):
        raise SecureChannelError("host cryptogram or C-MAC wrong")
    state.chaining = full
    state.last_cmac = full


def wrap_command(state: ChannelState, apdu: bytes) -> bytes:
    """Host side: encrypt the data field (C-DECRYPTION) and append the C-MAC; Le 00 is always asked for."""
    data, _ = _short_body(apdu)
    state.counter += 1
    encrypted = _cbc(state.keys.enc, state._icv(response=False), _pad(data), decrypt=False) if data else b""
    header = _header(apdu)
    full = state._mac(header, encrypted)
    state.chaining = full
    state.last_cmac = full
    body = encrypted + full[:MAC_LEN]
    if len(body) > 255:
        raise ValueError("command data too long for a short APDU under secure messaging")
    return header + bytes((len(body),)) + body + b"\x00"


def unwrap_command(state: ChannelState, apdu: bytes) -> bytes:
    """Card side: check the C-MAC and decrypt; returns the plain APDU (CLA bit 2 cleared, data, Le 00)."""
    try:
        body, _ = _short_body(apdu)
    except ValueError as exc:
        raise SecureChannelError("malformed command") from exc
    if len(body) < MAC_LEN or not apdu[0] & 0x04:
        raise SecureChannelError("command without C-MAC")
    encrypted, mac = body[:-MAC_LEN], body[-MAC_LEN:]
    full = state._mac(_header(apdu), encrypted)
    if not hmac.compare_digest(mac, full[:MAC_LEN]):
        raise SecureChannelError("C-MAC wrong")
    state.counter += 1
    state.chaining = full
    state.last_cmac = full
    data = b""
    if encrypted:
        if len(encrypted) % BLOCK:
            raise SecureChannelError("encrypted data not a whole number of blocks")
        data = _unpad(_cbc(state.keys.enc, state._icv(response=False), encrypted, decrypt=True))
    cla, ins, p1, p2 = apdu[:4]
    plain = bytes((cla & ~0x04 & 0xFF, ins, p1, p2))
    return plain + (bytes((len(data),)) + data if data else b"") + b"\x00"


def wrap_response(state: ChannelState, data: bytes, sw: int) -> bytes:
    """Card side: encrypt the response data (R-ENCRYPTION) and append the R-MAC over data and status word."""
    encrypted = _cbc(state.keys.enc, state._icv(response=True), _pad(data), decrypt=False) if data else b""
    status = sw.to_bytes(2, "big")
    mac = cmac(state.keys.rmac, state.last_cmac + encrypted + status)[:MAC_LEN]
    return encrypted + mac + status


def unwrap_response(state: ChannelState, response: bytes) -> tuple[bytes, int]:
    """Host side: check the R-MAC and decrypt; returns (data, SW). A bare status word has no R-MAC: only an
    error the card gives when it refused the command outright (its session is then closed)."""
    if len(response) < 2:
        raise SecureChannelError("response shorter than a status word")
    status = response[-2:]
    sw = int.from_bytes(status, "big")
    if len(response) == 2:
        if sw == 0x9000:
            raise SecureChannelError("success without R-MAC")
        return b"", sw
    if len(response) < 2 + MAC_LEN:
        raise SecureChannelError("response without R-MAC")
    encrypted, mac = response[: -2 - MAC_LEN], response[-2 - MAC_LEN : -2]
    expected = cmac(state.keys.rmac, state.last_cmac + encrypted + status)[:MAC_LEN]
    if not hmac.compare_digest(mac, expected):
        raise SecureChannelError("R-MAC wrong")
    if not encrypted:
        return b"", sw
    if len(encrypted) % BLOCK:
        raise SecureChannelError("encrypted response not a whole number of blocks")
    return _unpad(_cbc(state.keys.enc, state._icv(response=True), encrypted, decrypt=True)), sw


def initialize_update(host_challenge: bytes) -> bytes:
    """INITIALIZE UPDATE for key version KEY_VERSION with the host challenge (plain: nothing is open yet)."""
    return bytes((0x80, INS_INITIALIZE_UPDATE, KEY_VERSION, 0x00, CHALLENGE_LEN)) + host_challenge + b"\x00"


@dataclass(frozen=True)
class InitializeUpdateAnswer:
    """The card's answer to INITIALIZE UPDATE (Amd D §7.1.1.6)."""

    diversification: bytes  # 10 bytes: which card, so the issuer knows which diversified keys it holds
    key_version: int
    card_challenge: bytes
    card_cryptogram: bytes

    def encode(self) -> bytes:
        """The answer's 29 bytes (without sequence counter: the card challenge is random)."""
        key_info = bytes((self.key_version, SCP_ID, SCP_I))
        return self.diversification + key_info + self.card_challenge + self.card_cryptogram

    @classmethod
    def decode(cls, raw: bytes) -> InitializeUpdateAnswer:
        """Parse the 29 bytes; raises SecureChannelError for anything but SCP03."""
        if len(raw) != 29 or raw[11] != SCP_ID:
            raise SecureChannelError("not an SCP03 INITIALIZE UPDATE answer")
        return cls(raw[:10], raw[10], raw[13:21], raw[21:29])


# --- the simulator's card keys ---------------------------------------------------------------------------------
# The issuer simulator and the virtual card's factory (clerk_agent/card/virtual/admin.py) share one master key in
# the `hub dev-pki` directory; a real issuer keeps its scheme and keys to itself.
MASTER_KEY_FILE = "private/card-admin-master.key"


def diversify(master: bytes, diversification: bytes) -> StaticKeys:
    """A card's static keys from the issuer's master key: AES-CMAC(master, diversification data ‖ key number).

    The scheme is the simulator's own (issuers keep theirs private); any keyed one-way function of the card's
    10-byte diversification data serves, as long as only the issuer can compute it.
    """
    return StaticKeys(*(cmac(master, diversification + bytes((number,)) + bytes(5)) for number in (1, 2, 3)))


def load_master_key(pki_dir: Path) -> bytes:
    """The simulator's master key, made on first use (exclusively: two processes agree on one key)."""
    path = pki_dir / MASTER_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(16))
        try:
            os.link(partial, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return path.read_bytes()
