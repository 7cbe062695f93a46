"""Raw RSA PKCS#1 v1.5 signing over bytes exactly as given, as the card's COMPUTE DIGITAL SIGNATURE (P1=00) does."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from clerk_agent.card.apdu import SHA256_DIGEST_INFO_PREFIX


def pkcs1v15_sign_arithmetic(key: rsa.RSAPrivateKey, block: bytes) -> bytes:
    """EMSA-PKCS1-v1_5 padding around any `block`, then the RSA private operation (CRT) in Python."""
    numbers = key.private_numbers()
    size = (numbers.public_numbers.n.bit_length() + 7) // 8
    if not 1 <= len(block) <= size - 11:
        raise ValueError("block does not fit PKCS#1 v1.5 padding")
    encoded = b"\x00\x01" + b"\xff" * (size - 3 - len(block)) + b"\x00" + block
    message = int.from_bytes(encoded, "big")
    m1 = pow(message, numbers.dmp1, numbers.p)
    m2 = pow(message, numbers.dmq1, numbers.q)
    h = (numbers.iqmp * (m1 - m2)) % numbers.p
    return (m2 + h * numbers.q).to_bytes(size, "big")


def pkcs1v15_sign_raw(key: rsa.RSAPrivateKey, block: bytes) -> bytes:
    """Sign `block` (normally a DigestInfo) as the card does; OpenSSL for SHA-256 DigestInfos, arithmetic otherwise."""
    if len(block) == len(SHA256_DIGEST_INFO_PREFIX) + 32 and block.startswith(SHA256_DIGEST_INFO_PREFIX):
        # Same deterministic signature, about 20x faster: keeps the emulator's compute time out of the
        # benchmark's APDU round-trip figures.
        return key.sign(
            block[len(SHA256_DIGEST_INFO_PREFIX) :], padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
        )
    return pkcs1v15_sign_arithmetic(key, block)
