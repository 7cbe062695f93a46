"""BAC key derivation and secure messaging (ICAO Doc 9303 part 11 §4.3, §9.7, §9.8).

Both ends of the exchange: the counter's reader protects commands and opens responses; the virtual passport opens
commands and protects responses with the same code. After BAC: two-key 3DES in CBC with a zero IV, the ISO/IEC
9797-1 MAC algorithm 3 ("retail MAC") with padding method 2, and an 8-byte send sequence counter (SSC). After PACE
with AES (`AesSecureMessaging`, §9.8.6.2): AES-CBC whose IV is the SSC encrypted under the session's encryption
key, AES-CMAC cut to 8 bytes over data padded to 16, and a 16-byte SSC. Either way the SSC is incremented before
every command and every response.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import ClassVar

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from service.wire.mrz import check_digit

_ZERO_IV = bytes(8)
ENC, MAC = 1, 2  # the counter appended to the key seed for each key (part 11 §9.7.1)


class SecureMessagingError(Exception):
    """A MAC did not verify or a protected object was malformed: the session is over."""


def mrz_information(document_number: str, birth_yymmdd: str, expiry_yymmdd: str) -> str:
    """The MRZ information the BAC key is derived from: each field followed by its check digit (part 11 §4.3.2)."""
    number = document_number.upper().ljust(9, "<")
    return (
        number
        + check_digit(number)
        + birth_yymmdd
        + check_digit(birth_yymmdd)
        + expiry_yymmdd
        + check_digit(expiry_yymmdd)
    )


def key_seed(mrz_info: str) -> bytes:
    """K_seed: the first 16 bytes of SHA-1 over the MRZ information."""
    return hashlib.sha1(mrz_info.encode("ascii")).digest()[:16]  # noqa: S324 -- the hash 9303 prescribes


def _with_parity(key: bytes) -> bytes:
    # DES keys carry odd parity in each byte's lowest bit.
    return bytes((b & 0xFE) | ((bin(b >> 1).count("1") + 1) % 2) for b in key)


def derive_key(seed: bytes, counter: int) -> bytes:
    """A two-key 3DES key (16 bytes, parity adjusted) from a seed and the counter 1 (enc) or 2 (MAC)."""
    digest = hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()  # noqa: S324 -- 9303 part 11 §9.7.1
    return _with_parity(digest[:16])


def pad(data: bytes, block: int = 8) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 80 then zeros up to a multiple of the block size (8 for DES, 16 for AES)."""
    data += b"\x80"
    return data + bytes(-len(data) % block)


def unpad(data: bytes) -> bytes:
    """Remove padding method 2."""
    end = data.rstrip(b"\x00")
    if not end.endswith(b"\x80"):
        raise SecureMessagingError("bad padding")
    return end[:-1]


def _tdes(key16: bytes) -> TripleDES:
    return TripleDES(key16 + key16[:8])  # K1 K2 K1: two-key 3DES as a 24-byte key


def encrypt(key16: bytes, data: bytes) -> bytes:
    """3DES-CBC with a zero IV; `data` already padded."""
    encryptor = Cipher(_tdes(key16), modes.CBC(_ZERO_IV)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def decrypt(key16: bytes, data: bytes) -> bytes:
    """3DES-CBC decryption with a zero IV."""
    decryptor = Cipher(_tdes(key16), modes.CBC(_ZERO_IV)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def _des(key8: bytes) -> TripleDES:
    return TripleDES(key8 * 3)  # single DES as 3DES with three equal keys


def retail_mac(key16: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 over `data` padded with method 2: DES-CBC with Ka, then Kb⁻¹ and Ka."""
    ka, kb = key16[:8], key16[8:16]
    encryptor = Cipher(_des(ka), modes.CBC(_ZERO_IV)).encryptor()
    chained = (encryptor.update(pad(data)) + encryptor.finalize())[-8:]
    decryptor = Cipher(_des(kb), modes.ECB()).decryptor()  # noqa: S305 -- one block, as the algorithm prescribes
    middle = decryptor.update(chained) + decryptor.finalize()
    final = Cipher(_des(ka), modes.ECB()).encryptor()  # noqa: S305
    return final.update(middle) + final.finalize()


def ber_length(length: int) -> bytes:
    """A BER definite length."""
    if length < 0x80:
        return bytes([length])
    if length < 0x100:
        return bytes([0x81, length])
    return bytes([0x82]) + length.to_bytes(2, "big")


def _objects(data: bytes) -> dict[int, bytes]:
    """The SM data objects (87, 97, 99, 8E) of a protected body, by tag."""
    found: dict[int, bytes] = {}
    offset = 0
    while offset < len(data):
        tag = data[offset]
        length = data[offset + 1]
        offset += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[offset : offset + count], "big")
            offset += count
        found[tag] = data[offset : offset + length]
        offset += length
        if offset > len(data):
            raise SecureMessagingError("truncated secure messaging object")
    return found


def _do(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + ber_length(len(value)) + value


def aes_cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B) of `data`, all 16 bytes."""
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


@dataclass
class SecureMessaging:
    """One session's keys and send sequence counter; this class speaks BAC's 3DES (§9.8.6.1)."""

    ks_enc: bytes
    ks_mac: bytes
    ssc: int
    block: ClassVar[int] = 8

    @classmethod
    def from_bac(cls, k_ifd: bytes, k_ic: bytes, rnd_ic: bytes, rnd_ifd: bytes) -> SecureMessaging:
        """Session keys from the exchanged key halves; SSC from the last four bytes of each challenge."""
        seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
        return cls(
            derive_key(seed, ENC), derive_key(seed, MAC), int.from_bytes(rnd_ic[-4:] + rnd_ifd[-4:], "big")
        )

    def _step(self) -> None:
        self.ssc = (self.ssc + 1) % (1 << (8 * self.block))

    def _mac(self, data: bytes) -> bytes:
        """The MAC over SSC ‖ `data` (the retail MAC pads on its own)."""
        return retail_mac(self.ks_mac, self.ssc.to_bytes(8, "big") + data)

    def _encrypt(self, data: bytes) -> bytes:
        return encrypt(self.ks_enc, pad(data))

    def _decrypt(self, data: bytes) -> bytes:
        return unpad(decrypt(self.ks_enc, data))

    # --- the reader's side ---------------------------------------------------------------------

    def protect(self, header: bytes, data: bytes = b"", le: int | None = None) -> bytes:
        """A protected short command APDU from a plain header (CLA INS P1 P2), its data and Le."""
        self._step()
        cla = header[0] | 0x0C
        masked = bytes([cla]) + header[1:4]
        body = b""
        if data:
            body += _do(0x87, b"\x01" + self._encrypt(data))
        if le is not None:
            body += _do(0x97, bytes([le & 0xFF]))
        body += _do(0x8E, self._mac(pad(masked, self.block) + body))
        return masked + bytes([len(body)]) + body + b"\x00"

    def unprotect_response(self, response: bytes) -> bytes:
        """The plain data and status word of a protected response; a bad MAC ends the session."""
        self._step()
        sw = response[-2:]
        objects = _objects(response[:-2])
        if 0x8E not in objects:
            # A card answers an error it detected in the protected command in plain (e.g. 6987, 6988).
            raise SecureMessagingError(f"unprotected answer {sw.hex()}")
        covered = b"".join(_do(tag, objects[tag]) for tag in (0x87, 0x99) if tag in objects)
        if not hmac.compare_digest(self._mac(covered), objects[0x8E]):
            raise SecureMessagingError("response MAC does not verify")
        data = b""
        if 0x87 in objects:
            data = self._decrypt(objects[0x87][1:])
        return data + objects.get(0x99, sw)

    # --- the chip's side -----------------------------------------------------------------------

    def unprotect_command(self, apdu: bytes) -> tuple[bytes, bytes, int | None]:
        """The plain header, data and Le of a protected command; a bad MAC ends the session."""
        self._step()
        header = apdu[:4]
        body = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        objects = _objects(body)
        if 0x8E not in objects:
            raise SecureMessagingError("no MAC in a protected command")
        covered = b"".join(_do(tag, objects[tag]) for tag in (0x87, 0x97) if tag in objects)
        if not hmac.compare_digest(self._mac(pad(header, self.block) + covered), objects[0x8E]):
            raise SecureMessagingError("command MAC does not verify")
        data = self._decrypt(objects[0x87][1:]) if 0x87 in objects else b""
        le = (objects[0x97][0] or 256) if 0x97 in objects else None
        return bytes([header[0] & ~0x0C & 0xFF]) + header[1:4], data, le

    def protect_response(self, data: bytes, sw: bytes) -> bytes:
        """A protected response: encrypted data (if any), the status word and the MAC over both."""
        self._step()
        body = _do(0x87, b"\x01" + self._encrypt(data)) if data else b""
        body += _do(0x99, sw)
        return body + _do(0x8E, self._mac(body)) + sw


class AesSecureMessaging(SecureMessaging):
    """Secure messaging after PACE with AES (9303 part 11 §9.8.6.2); the SSC starts at zero."""

    block: ClassVar[int] = 16

    def _iv(self) -> bytes:
        encryptor = Cipher(algorithms.AES(self.ks_enc), modes.ECB()).encryptor()  # noqa: S305 -- one block: the IV
        return encryptor.update(self.ssc.to_bytes(16, "big")) + encryptor.finalize()

    def _mac(self, data: bytes) -> bytes:
        return aes_cmac(self.ks_mac, pad(self.ssc.to_bytes(16, "big") + data, 16))[:8]

    def _encrypt(self, data: bytes) -> bytes:
        encryptor = Cipher(algorithms.AES(self.ks_enc), modes.CBC(self._iv())).encryptor()
        return encryptor.update(pad(data, 16)) + encryptor.finalize()

    def _decrypt(self, data: bytes) -> bytes:
        if not data or len(data) % 16:
            raise SecureMessagingError("encrypted data is not whole AES blocks")
        decryptor = Cipher(algorithms.AES(self.ks_enc), modes.CBC(self._iv())).decryptor()
        return unpad(decryptor.update(data) + decryptor.finalize())
