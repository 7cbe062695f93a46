"""The residence card's access protocol (在留カード等仕様書 Ver 1.5): keys from the card number, mutual
authentication, and the encryption-only secure messaging of VERIFY and READ BINARY (docs/id-documents.md §Japanese).

Shared by the counter's reader and the virtual card, so both sides run the same arithmetic: 2-key 3DES in CBC
mode with a zero IV, ISO/IEC 9797-1 padding method 2, the retail MAC (ISO/IEC 9797-1 algorithm 3) over the
authentication cryptograms, session key = first 16 bytes of SHA-1(K.IFD xor K.ICC ‖ 00000001).
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

BLOCK = 8


def pad(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 2 (80 then 00 up to a whole block)."""
    padded = data + b"\x80"
    return padded + b"\x00" * (-len(padded) % BLOCK)


def unpad(data: bytes) -> bytes:
    """Strip method-2 padding; ValueError when there is none."""
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80"):
        raise ValueError("no ISO/IEC 9797-1 method 2 padding")
    return stripped[:-1]


def _des3(key: bytes) -> TripleDES:
    # cryptography deprecates 8- and 16-byte keys; K1‖K2‖K1 (and K‖K‖K) are the same cipher spelled in 24 bytes.
    if len(key) == BLOCK:
        return TripleDES(key * 3)
    return TripleDES(key + key[:BLOCK])


def _cbc(key: bytes, data: bytes, *, encrypt: bool) -> bytes:
    cipher = Cipher(_des3(key), modes.CBC(bytes(BLOCK)))
    worker = cipher.encryptor() if encrypt else cipher.decryptor()
    return worker.update(data) + worker.finalize()


def encrypt(key: bytes, data: bytes) -> bytes:
    """3DES-CBC, zero IV; `data` must already be a whole number of blocks."""
    return _cbc(key, data, encrypt=True)


def decrypt(key: bytes, data: bytes) -> bytes:
    """The inverse of encrypt."""
    if len(data) % BLOCK:
        raise ValueError("ciphertext is not a whole number of blocks")
    return _cbc(key, data, encrypt=False)


def retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 with padding method 2: single DES CBC under K1, then D(K2), E(K1)."""
    k1, k2 = key[:BLOCK], key[BLOCK : 2 * BLOCK]
    chained = _cbc(k1, pad(data), encrypt=True)[-BLOCK:]
    # Two single-block steps after the chain (the MAC's output transformation); ECB of one block is DES itself.
    step = Cipher(_des3(k2), modes.ECB()).decryptor().update(chained)  # noqa: S305
    return Cipher(_des3(k1), modes.ECB()).encryptor().update(step)  # noqa: S305


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
