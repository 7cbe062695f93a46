"""What every ID-document chip reader shares: the read result, its upload form, reading an EF, the errors.

A reader opens the chip with access data the counter has (typed by the clerk, or read from the document still),
reads the signed data objects as they are, and hands them to the hub as a `ChipReadout` (service/wire/idchips.py).
The access data and every key derived from it stay in the reader and are wiped after use; nothing of them is in
the readout (docs/id-documents.md §Counter).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from clerk_agent.card.apdu import TlvError, tlv_total_size
from clerk_agent.errors import CardDataMalformed, CardError
from service.wire.idchips import ChipKind, ChipReadout


class ChipAccessDenied(CardError):
    """The chip refused the access data (a wrong MRZ key, card number or PIN): retype it and try again."""

    retriable = True
    code = "chip_access_denied"
    refusal = "access_denied"  # the ChipRefusal the counter shows


class NotThisDocument(CardError):
    """The chip in the reader does not have the application of the document kind asked for."""

    code = "not_this_document"


@dataclass
class ChipRead:
    """The objects read from one chip, by the names its specification gives them."""

    kind: ChipKind
    objects: dict[str, bytes] = field(default_factory=dict)
    apdu_count: int = 0

    def readout(self) -> ChipReadout:
        """The upload for the hub: the raw objects, base64."""
        return ChipReadout(
            kind=self.kind,
            objects={name: base64.b64encode(raw).decode() for name, raw in self.objects.items()},
        )


class ChipReader(Protocol):
    """One document kind's reader on one transport."""

    kind: ChipKind

    def read(self) -> ChipRead:
        """Open the chip and read every object the hub verifies."""
        ...


def wipe(buffer: bytearray) -> None:
    """Overwrite access data in place once it has been used (web-eid: buffers are wiped, not left to the GC)."""
    buffer[:] = bytes(len(buffer))


def read_tlv_file(read: Callable[[int, int], bytes], *, chunk: int) -> bytes:
    """A whole EF holding one BER-TLV object: its head first (for the length), then the rest in `chunk` reads."""
    head = read(0, 4)
    try:
        total = tlv_total_size(head)
    except TlvError as exc:
        raise CardDataMalformed(f"the file does not start with a TLV: {exc}") from exc
    data = bytearray(head)
    while len(data) < total:
        part = read(len(data), min(chunk, total - len(data)))
        if not part:
            raise CardDataMalformed("the file ended before its TLV did")
        data += part
    return bytes(data[:total])
