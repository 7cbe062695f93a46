"""BER-TLV as ICAO Doc 9303 part 10 uses it: multi-byte tags (5F1F, 7F61), definite lengths up to four bytes."""

from __future__ import annotations

from collections.abc import Iterator


class TlvError(ValueError):
    """The bytes are not well-formed BER-TLV."""


def read_tlv(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """The tag, value and the offset after it, of the TLV at `offset`."""
    try:
        start = offset
        tag = data[offset]
        offset += 1
        if tag & 0x1F == 0x1F:
            # Subsequent tag bytes follow while their high bit is set.
            while True:
                tag = (tag << 8) | data[offset]
                offset += 1
                if not data[offset - 1] & 0x80:
                    break
        length = data[offset]
        offset += 1
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 4:
                raise TlvError(f"unsupported length form at {start}")
            length = int.from_bytes(data[offset : offset + count], "big")
            offset += count
    except IndexError as exc:
        raise TlvError(f"truncated TLV at {offset}") from exc
    end = offset + length
    if end > len(data):
        raise TlvError(f"TLV at {start} runs past the data ({end} > {len(data)})")
    return tag, data[offset:end], end


def iter_tlv(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Every TLV in a concatenation, in order."""
    offset = 0
    while offset < len(data):
        if data[offset] in (0x00, 0xFF):  # padding between objects
            offset += 1
            continue
        tag, value, offset = read_tlv(data, offset)
        yield tag, value


def find_tlv(data: bytes, *path: int) -> bytes:
    """The value at a path of tags, each searched among the children of the previous one."""
    value = data
    for tag in path:
        for found, inner in iter_tlv(value):
            if found == tag:
                value = inner
                break
        else:
            raise TlvError(f"tag {tag:X} not found")
    return value
