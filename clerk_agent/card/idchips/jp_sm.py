"""The residence card's access protocol (在留カード等仕様書 Ver 1.5): keys from the card number, mutual
authentication, and the encryption-only secure messaging of VERIFY and READ BINARY (docs/id-documents.md §Japanese).

Shared by the counter's reader and the virtual card, so both sides run the same arithmetic: 2-key 3DES in CBC
mode with a zero IV, ISO/IEC 9797-1 padding method 2, the retail MAC (ISO/IEC 9797-1 algorithm 3) over the
authentication cryptograms, session key = first 16 bytes of SHA-1(K.IFD xor K.ICC ‖ 00000001). Only the key
derivations and the residence card's SM objects are its own.
"""

from __future__ import annotations

import hashlib

from clerk_agent.card.idchips.sm import decrypt as _decrypt

# The primitives are the passport's (9303 part 11 uses the same 3DES, padding and retail MAC), already checked
# against the worked example of 9303 part 11 Appendix D.
from clerk_agent.card.idchips.sm import encrypt, pad, retail_mac

BLOCK = 8
__all__ = [
    "access_key",
    "decrypt",
    "encrypt",
    "pad",
    "retail_mac",
    "session_key",
    "sm_unwrap",
    "sm_wrap",
    "unpad",
]


def unpad(data: bytes) -> bytes:
    """Strip method-2 padding; ValueError when there is none."""
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80"):
        raise ValueError("no ISO/IEC 9797-1 method 2 padding")
    return stripped[:-1]


def decrypt(key: bytes, data: bytes) -> bytes:
    """3DES-CBC decryption, zero IV; ValueError unless `data` is whole blocks."""
    if not data or len(data) % BLOCK:
        raise ValueError("ciphertext is not a whole number of blocks")
    return _decrypt(key, data)


def access_key(card_number: bytes | bytearray) -> bytes:
    """K.enc = K.mac = the first 16 bytes of SHA-1 over the 12 characters of the card number."""
    return hashlib.sha1(bytes(card_number)).digest()[:16]  # noqa: S324 - the specification's derivation


def session_key(k_ifd: bytes, k_icc: bytes) -> bytes:
    """KS.enc from the two key halves exchanged in MUTUAL AUTHENTICATE."""
    shared = bytes(a ^ b for a, b in zip(k_ifd, k_icc, strict=True))
    return hashlib.sha1(shared + b"\x00\x00\x00\x01").digest()[:16]  # noqa: S324 - the specification's KDF


def sm_wrap(key: bytes, plain: bytes) -> bytes:
    """The value of an SM cryptogram object (tag 86): padding indicator 01 then the encrypted, padded data."""
    return b"\x01" + encrypt(key, pad(plain))


def sm_unwrap(key: bytes, value: bytes) -> bytes:
    """The plain data inside a tag-86 value; ValueError when it is not one."""
    if not value or value[0] != 0x01:
        raise ValueError("SM cryptogram without padding indicator 01")
    return unpad(decrypt(key, value[1:]))
