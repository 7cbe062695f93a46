"""PACE with the generic mapping on elliptic curves (ICAO Doc 9303 part 11 §4.4, eighth edition 2021).

Both ends use this module: the counter's passport reader (`clerk_agent/card/idchips/passport.py`) and the virtual
passport (`clerk_agent/card/virtual/idchips/passport.py`). What is implemented is the protocol a passport announces
most often, `id-PACE-ECDH-GM-AES-CBC-CMAC-128` on NIST P-256 or brainpoolP256r1 (standardised domain parameters 12
and 13), with the MRZ as the password:

1. K_π = KDF(SHA-1(MRZ information), 3); the chip sends z = E(K_π, s) and the reader recovers the nonce s.
2. Mapping: both send an ephemeral public key on the curve's generator G; with H their shared point, the session's
   generator is G' = s·G + H.
3. Key agreement on G': K is the x-coordinate of the shared point; KS_enc = KDF(K, 1), KS_mac = KDF(K, 2).
4. Each side sends the token CMAC(KS_mac, the other's public key object) cut to 8 bytes; a wrong MRZ shows here.

Point arithmetic is python-ecdsa's (G' is not the curve's generator, and `cryptography` adds no points). Every point
received is checked to lie on the curve. docs/id-documents.md §Passport says where this stops.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final

from ecdsa.curves import BRAINPOOLP256r1, Curve, NIST256p
from ecdsa.ellipticcurve import INFINITY, PointJacobi
from ecdsa.errors import MalformedPointError

from clerk_agent.card.idchips.sm import aes_cmac, ber_length

# id-PACE-ECDH-GM-AES-CBC-CMAC-128: bsi-de (0.4.0.127.0.7) 2 2 4 2 2, its DER contents.
PACE_ECDH_GM_AES_128: Final = bytes.fromhex("04007F00070202040202")
# Standardised domain parameters (9303 part 11 §9.5.1) this reader and the virtual chip speak.
CURVES: Final[dict[int, Curve]] = {12: NIST256p, 13: BRAINPOOLP256r1}
PASSWORD_MRZ: Final = 1  # MSE:Set AT tag 83: the MRZ (2 would be the CAN)
ENC, MAC, PI = 1, 2, 3  # the KDF's counters (§9.7.1)


class PaceError(Exception):
    """A PACE message was malformed or a point was not on the curve: the run is over."""


@dataclass(frozen=True)
class PaceInfo:
    """One PACEInfo of EF.CardAccess: the protocol, its version and the domain parameters' id."""

    protocol: bytes
    version: int
    parameter_id: int | None

    @property
    def supported(self) -> bool:
        """Whether this module can run it."""
        return self.protocol == PACE_ECDH_GM_AES_128 and self.version == 2 and self.parameter_id in CURVES


def kdf(secret: bytes, counter: int) -> bytes:
    """KDF for AES-128 (§9.7.1): the first 16 bytes of SHA-1(secret ‖ counter)."""
    return hashlib.sha1(secret + counter.to_bytes(4, "big")).digest()[:16]  # noqa: S324 -- as 9303 prescribes


def password_key(mrz_information: str) -> bytearray:
    """K_π from the MRZ information (document number, birth date, expiry, each with its check digit)."""
    return bytearray(kdf(hashlib.sha1(mrz_information.encode("ascii")).digest(), PI))  # noqa: S324


def der_items(data: bytes) -> list[tuple[int, bytes]]:
    """The DER items at one level (single-byte tags, which is all EF.CardAccess uses)."""
    items, offset = [], 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise PaceError("truncated DER")
        tag, length = data[offset], data[offset + 1]
        offset += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[offset : offset + count], "big")
            offset += count
        if offset + length > len(data):
            raise PaceError("truncated DER")
        items.append((tag, data[offset : offset + length]))
        offset += length
    return items


def parse_card_access(data: bytes) -> list[PaceInfo]:
    """The PACEInfos of EF.CardAccess (a SET OF SecurityInfo, 9303 part 11 §9.2.1); other infos are skipped."""
    found: list[PaceInfo] = []
    for tag, content in der_items(data):
        if tag != 0x31:
            raise PaceError("EF.CardAccess is not a SET OF SecurityInfo")
        for info_tag, info in der_items(content):
            if info_tag != 0x30:
                continue
            fields = der_items(info)
            if len(fields) < 2 or fields[0][0] != 0x06 or fields[1][0] != 0x02:
                continue
            oid = fields[0][1]
            if not oid.startswith(PACE_ECDH_GM_AES_128[:7]):  # id-PACE's arc
                continue
            parameter = (
                int.from_bytes(fields[2][1], "big") if len(fields) > 2 and fields[2][0] == 0x02 else None
            )
            found.append(PaceInfo(oid, int.from_bytes(fields[1][1], "big"), parameter))
    return found


def card_access(parameter_id: int) -> bytes:
    """EF.CardAccess announcing `id-PACE-ECDH-GM-AES-CBC-CMAC-128`, version 2, on `parameter_id`."""
    info = tlv(0x06, PACE_ECDH_GM_AES_128) + tlv(0x02, b"\x02") + tlv(0x02, bytes([parameter_id]))
    return tlv(0x31, tlv(0x30, info))


def tlv(tag: int, value: bytes) -> bytes:
    """One DER/BER object with a single-byte tag."""
    return bytes([tag]) + ber_length(len(value)) + value


def dynamic_data(tag: int | None = None, value: bytes = b"") -> bytes:
    """A General Authenticate data field: 7C around one object, or around nothing (the first step)."""
    return tlv(0x7C, b"" if tag is None else tlv(tag, value))


def read_dynamic_data(data: bytes, tag: int) -> bytes:
    """The object `tag` inside a General Authenticate's 7C."""
    outer = der_items(data)
    if len(outer) != 1 or outer[0][0] != 0x7C:
        raise PaceError("not a dynamic authentication data object")
    for inner_tag, value in der_items(outer[0][1]):
        if inner_tag == tag:
            return value
    raise PaceError(f"no object {tag:02X} in the dynamic authentication data")


def point_from(curve: Curve, encoded: bytes) -> PointJacobi:
    """An uncompressed point of `curve`, refused unless it lies on it and is not the point at infinity."""
    if len(encoded) != 1 + 2 * curve.baselen or encoded[0] != 0x04:
        raise PaceError("an uncompressed point of the domain's size expected")
    try:
        point = PointJacobi.from_bytes(curve.curve, encoded, valid_encodings=("uncompressed",))
    except MalformedPointError as exc:
        raise PaceError("the point is not on the curve") from exc
    if not curve.curve.contains_point(point.x(), point.y()):
        raise PaceError("the point is not on the curve")
    return point


def encode_point(point: PointJacobi) -> bytes:
    """The uncompressed encoding 04 ‖ x ‖ y."""
    return bytes(point.to_bytes("uncompressed"))


def private_scalar(curve: Curve) -> int:
    """A private key: uniform in [1, n-1]."""
    return 1 + secrets.randbelow(curve.order - 1)


def mapped_generator(curve: Curve, nonce: bytes, private: int, other_public: PointJacobi) -> PointJacobi:
    """The generic mapping (§4.4.3.3.1): G' = s·G + H with H = our private key times the other's mapping key."""
    shared = other_public * private
    if shared == INFINITY:
        raise PaceError("the mapping's shared point is the point at infinity")
    mapped = curve.generator * int.from_bytes(nonce, "big") + shared
    if mapped == INFINITY:
        raise PaceError("the mapped generator is the point at infinity")
    return PointJacobi.from_affine(mapped.to_affine(), generator=False)


def shared_secret(curve: Curve, private: int, other_public: PointJacobi) -> bytes:
    """K: the x-coordinate of the shared point, as many bytes as the field has."""
    shared = other_public * private
    if shared == INFINITY:
        raise PaceError("the shared point is the point at infinity")
    return int(shared.x()).to_bytes(curve.baselen, "big")


def token(ks_mac: bytes, protocol: bytes, public: bytes) -> bytes:
    """The authentication token (§4.4.3.4): CMAC over the public key data object 7F49 {06 protocol, 86 point}."""
    body = tlv(0x06, protocol) + tlv(0x86, public)
    return aes_cmac(ks_mac, b"\x7f\x49" + ber_length(len(body)) + body)[:8]
