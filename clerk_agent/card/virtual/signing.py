"""The card's COMPUTE DIGITAL SIGNATURE (P1=00) over bytes exactly as given: raw RSA PKCS#1 v1.5 on the current
card, ECDSA P-384 over a SHA-384 hash, answered r ‖ s, on the next-generation card (docs/card.md §3.4)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from clerk_agent.card.apdu import SHA256_DIGEST_INFO_PREFIX, SW


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


CardKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
P384_COORDINATE = 48


def ecdsa_p384_sign_raw(key: ec.EllipticCurvePrivateKey, digest: bytes) -> bytes:
    """ECDSA over a SHA-384 hash given as it is, answered as the card does: r ‖ s, 48 bytes each."""
    if not isinstance(key.curve, ec.SECP384R1):
        raise ValueError("the next-generation card's keys are P-384")
    if len(digest) != P384_COORDINATE:
        raise ValueError("COMPUTE DIGITAL SIGNATURE takes a 48-byte SHA-384 hash")
    r, s = utils.decode_dss_signature(key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA384()))))
    return r.to_bytes(P384_COORDINATE, "big") + s.to_bytes(P384_COORDINATE, "big")


def card_sign(key: CardKey, block: bytes) -> bytes:
    """Sign as the card holding `key` does; ValueError when the block does not fit the key's scheme."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ecdsa_p384_sign_raw(key, block)
    if not 1 <= len(block) <= key.key_size // 8 - 11:
        raise ValueError("block does not fit PKCS#1 v1.5 padding")
    return pkcs1v15_sign_raw(key, block)


def signed_response(key: CardKey, block: bytes) -> bytes:
    """The card's answer (data ‖ SW): the signature and 9000, or 6700 when the block does not fit the key's scheme."""
    try:
        return card_sign(key, block) + SW.OK.to_bytes(2, "big")
    except ValueError:
        return SW.WRONG_LENGTH.to_bytes(2, "big")
