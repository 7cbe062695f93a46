"""PC/SC Part 10 pieces that need no reader: feature-list parsing and the PIN_VERIFY_STRUCTURE (pcsc-lite reader.h)."""

from __future__ import annotations

import struct

FEATURE_VERIFY_PIN_DIRECT = 0x06
CM_IOCTL_GET_FEATURE_REQUEST_CODE = 3400  # SCARD_CTL_CODE(3400) on the host's pcsc-lite


def parse_features(response: bytes) -> dict[int, int]:
    """GET_FEATURE_REQUEST answer → {feature tag: control code}; TLVs of tag, length 4, big-endian code."""
    features: dict[int, int] = {}
    pos = 0
    while pos + 2 <= len(response):
        tag, length = response[pos], response[pos + 1]
        value = response[pos + 2 : pos + 2 + length]
        if length != 4 or len(value) != 4:
            break
        features[tag] = int.from_bytes(value, "big")
        pos += 2 + length
    return features


def pin_verify_structure(verify_header: bytes, pin_length: int, *, timeout_s: int = 30) -> bytes:
    """PIN_VERIFY_STRUCTURE for an ASCII PIN of exactly `pin_length` digits placed right after Lc.

    The reader collects the PIN on its keypad and inserts it into the APDU template, so the PIN never enters
    the PC. Little-endian, packed, as pcsc-lite's reader.h declares it.
    """
    if len(verify_header) != 4:
        raise ValueError("the VERIFY header is CLA INS P1 P2")
    template = verify_header + bytes((pin_length,)) + b"\x30" * pin_length
    return (
        struct.pack(
            "<BBBBBHBBHB3sI",
            timeout_s,  # bTimerOut
            timeout_s,  # bTimerOut2
            0x82,  # bmFormatString: length in bytes, PIN at offset 0 of the data, left-justified, ASCII
            pin_length,  # bmPINBlockString: no length field, PIN block of pin_length bytes
            0x00,  # bmPINLengthFormat: no PIN length written into the APDU
            (pin_length << 8)
            | pin_length,  # wPINMaxExtraDigit: min digits (high byte), max digits (low byte)
            0x02,  # bEntryValidationCondition: the OK key
            0x01,  # bNumberMessage
            0x0411,  # wLangId: Japanese
            0x00,  # bMsgIndex
            b"\x00\x00\x00",  # bTeoPrologue (T=1 only, filled by the reader)
            len(template),  # ulDataLength
        )
        + template
    )
