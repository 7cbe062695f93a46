"""ISO 7816-4 command/response APDUs, the status words a My Number Card uses, and BER-TLV parsing."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from clerk_agent.errors import ApduFailed


class SW(IntEnum):
    """Status words seen on the card (docs/card.md §1.7)."""

    OK = 0x9000
    END_OF_FILE = 0x6282
    WRONG_LENGTH = 0x6700
    SECURITY_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    REFERENCE_DATA_BLOCKED = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    FILE_NOT_FOUND = 0x6A82
    WRONG_P1P2 = 0x6A86
    WRONG_OFFSET = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00


INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_VERIFY = 0x20
INS_CHANGE_REFERENCE_DATA = 0x24
INS_COMPUTE_SIGNATURE = 0x2A

# DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2 note 1).
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
SHORT_LE_MAX = 256
EXTENDED_LE_MAX = 65536


@dataclass(frozen=True)
class Command:
    """A command APDU; `le` is the expected response length (None: no Le, 256/65536: "all")."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def encode(self) -> bytes:
        """The wire form: short APDU when it fits, extended otherwise."""
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        extended = len(self.data) > 255 or (self.le is not None and self.le > SHORT_LE_MAX)
        if not extended:
            body = bytes((len(self.data),)) + self.data if self.data else b""
            le = b"" if self.le is None else bytes((self.le & 0xFF,))
            return header + body + le
        body = b"\x00" + len(self.data).to_bytes(2, "big") + self.data if self.data else b""
        if self.le is None:
            return header + body
        le_field = (self.le & 0xFFFF).to_bytes(2, "big")
        # Extended Le without data carries its own leading 00 (ISO 7816-3 case 2E).
        return header + body + (le_field if self.data else b"\x00" + le_field)


@dataclass(frozen=True)
class Response:
    """A response APDU split into data and status word."""

    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        """Whether the card answered 9000."""
        return self.sw == SW.OK


def parse_response(raw: bytes) -> Response:
    """Split raw card output into data and SW; fewer than 2 bytes is a transport defect."""
    if len(raw) < 2:
        raise ApduFailed(0x0000, "response shorter than a status word")
    return Response(data=bytes(raw[:-2]), sw=int.from_bytes(raw[-2:], "big"))


def expect_ok(response: Response, command: str) -> bytes:
    """The data of a 9000 response, else ApduFailed."""
    if response.sw != SW.OK:
        raise ApduFailed(response.sw, command)
    return response.data


def select_df(aid: bytes) -> Command:
    """SELECT by DF name, no FCI (P2=0C)."""
    return Command(0x00, INS_SELECT, 0x04, 0x0C, aid)


def select_ef(fid: int) -> Command:
    """SELECT EF by 2-byte file identifier under the current DF."""
    return Command(0x00, INS_SELECT, 0x02, 0x0C, fid.to_bytes(2, "big"))


def read_binary(offset: int, le: int) -> Command:
    """READ BINARY of the current EF at a 15-bit offset."""
    if not 0 <= offset <= 0x7FFF:
        raise ValueError("READ BINARY offset must fit in 15 bits")
    return Command(0x00, INS_READ_BINARY, offset >> 8, offset & 0xFF, le=le)


def read_binary_sfi(sfi: int, offset: int, le: int) -> Command:
    """READ BINARY by short EF identifier (P1 = 80|SFI), which also makes that EF current."""
    if not 1 <= sfi <= 0x1E or not 0 <= offset <= 0xFF:
        raise ValueError("SFI must be 1..30 and the offset 0..255")
    return Command(0x00, INS_READ_BINARY, 0x80 | sfi, offset, le=le)


def verify_query(p2: int = 0x80) -> Command:
    """VERIFY with no data: asks for the remaining tries without spending one (answers 63Cx)."""
    return Command(0x00, INS_VERIFY, 0x00, p2)


def compute_signature(digest_info: bytes, p2: int = 0x80) -> Command:
    """COMPUTE DIGITAL SIGNATURE, PKCS#1 v1.5 over the DigestInfo exactly as given (P1=00)."""
    return Command(0x80, INS_COMPUTE_SIGNATURE, 0x00, p2, digest_info, le=SHORT_LE_MAX)


def sha256_digest_info(digest: bytes) -> bytes:
    """DER DigestInfo for a 32-byte SHA-256 digest."""
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    return SHA256_DIGEST_INFO_PREFIX + digest


def retries_from_sw(sw: int) -> int | None:
    """Remaining tries encoded in 63Cx, or None when the SW is not of that form."""
    if sw & 0xFFF0 == 0x63C0:
        return sw & 0x0F
    return None


# --- BER-TLV -------------------------------------------------------------------------------------


class TlvError(ValueError):
    """Malformed BER-TLV."""


def parse_tag(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a BER tag at `pos`; returns (tag as int, next position)."""
    if pos >= len(buf):
        raise TlvError("truncated tag")
    first = buf[pos]
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= len(buf):
                raise TlvError("truncated multi-byte tag")
            byte = buf[pos]
            tag = (tag << 8) | byte
            pos += 1
            if not byte & 0x80:
                break
    return tag, pos


def parse_length(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a definite BER length at `pos`; returns (length, next position)."""
    if pos >= len(buf):
        raise TlvError("truncated length")
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0 or count > 3:
        # 0x80 is the indefinite form, which DER and the card never use.
        raise TlvError(f"unsupported length form {first:02X}")
    if pos + 1 + count > len(buf):
        raise TlvError("truncated long-form length")
    return int.from_bytes(buf[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def tlv_total_size(head: bytes) -> int:
    """Total size (tag + length + value) of the TLV object that `head` begins with."""
    _, pos = parse_tag(head, 0)
    length, pos = parse_length(head, pos)
    return pos + length


@dataclass(frozen=True)
class Tlv:
    """One BER-TLV object; `raw` is its complete encoding (tag, length and value)."""

    tag: int
    value: bytes
    raw: bytes


def iter_tlvs(buf: bytes) -> list[Tlv]:
    """Every top-level TLV in `buf`, stopping at 00 or FF FF filler (FF alone may start a tag such as FF20)."""
    out: list[Tlv] = []
    pos = 0
    while pos < len(buf) and buf[pos] != 0x00 and buf[pos : pos + 2] not in (b"\xff\xff", b"\xff"):
        start = pos
        tag, pos = parse_tag(buf, pos)
        length, pos = parse_length(buf, pos)
        if pos + length > len(buf):
            raise TlvError(f"value of tag {tag:X} runs past the end")
        out.append(Tlv(tag, bytes(buf[pos : pos + length]), bytes(buf[start : pos + length])))
        pos += length
    return out


def encode_tlv(tag: int, value: bytes) -> bytes:
    """DER-style encoding of one TLV with a 1- or 2-byte tag."""
    tag_bytes = tag.to_bytes(2 if tag > 0xFF else 1, "big")
    n = len(value)
    if n < 0x80:
        length = bytes((n,))
    elif n <= 0xFF:
        length = bytes((0x81, n))
    elif n <= 0xFFFF:
        length = b"\x82" + n.to_bytes(2, "big")
    else:
        length = b"\x83" + n.to_bytes(3, "big")
    return tag_bytes + length + value
