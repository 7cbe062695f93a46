"""The counter's chip reads of the Japanese documents for the current case (docs/id-documents.md §Japanese).

Beside the passport read in clerk_agent/flows/idchips.py, on the same document reader (`DocumentChips.source`):
- the residence card or special permanent resident certificate, opened with the card number the clerk typed;
- the IC driving licence, opened with the two PINs the applicant typed on their own screen, after its tries left
  were shown there.
The access data arrives as bytearrays, is used in the worker thread that talks to the card and is wiped there; only
the signed objects go to the hub, which answers with its verdict and each check. A refusal at the card (a wrong
number or PIN, a blocked PIN, another document) is named in the result the clerk sees, without any access data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from clerk_agent.card.idchips.base import ChipAccessDenied, ChipRead, NotThisDocument, wipe
from clerk_agent.card.idchips.jp_detect import JpDetection, detect_jp_document
from clerk_agent.card.idchips.licence import LicencePinIncorrect, LicencePinStatus, LicenceReader
from clerk_agent.card.idchips.residence import ResidenceReader
from clerk_agent.card.transport import Transport
from clerk_agent.errors import AgentError, LastTryConfirmationRequired, PinBlocked
from clerk_agent.flows.idchips import ChipSource, DocumentChips, virtual_chip_source
from clerk_agent.link.hub import JsonObject
from service.wire.idchips import ChipKind

if TYPE_CHECKING:
    from clerk_agent.card.virtual.vicc import VirtualChip

logger = logging.getLogger(__name__)


# The demo's invented holder per document (clerk_agent/card/virtual/idchips/jp_people.py; docs/id-documents.md
# §Virtual lists their PINs and card numbers).
VIRTUAL_HOLDERS: Final[dict[str, str]] = {
    "driving_licence": "sato_ichiro",
    "residence_card": "nguyen_lan",
    "special_permanent_resident": "kim_minjun",
}


def virtual_jp_chip_source(pki_dir: Path, document: str, holder: str | None = None) -> ChipSource:
    """The demo's virtual licence, residence card or special permanent resident certificate, in process.

    The chip is built on the first read and kept: a wrong PIN counts down across reads as on a real licence.
    """
    if document not in VIRTUAL_HOLDERS:
        raise ValueError(f"no virtual {document}")
    built: list[VirtualChip] = []

    def chip() -> VirtualChip:
        if not built:
            from clerk_agent.card.virtual.idchips.jp_pki import signer_from_dev_pki
            from clerk_agent.card.virtual.idchips.licence import build_virtual_licence
            from clerk_agent.card.virtual.idchips.residence import build_virtual_residence_card

            key = holder or VIRTUAL_HOLDERS[document]
            if document == "driving_licence":
                built.append(
                    build_virtual_licence(key, signer=signer_from_dev_pki(pki_dir, "driving_licence"))
                )
            else:  # both residence documents share one issuer; the holder's card type tells them apart
                built.append(
                    build_virtual_residence_card(key, signer=signer_from_dev_pki(pki_dir, "residence_card"))
                )
        return built[0]

    @contextlib.contextmanager
    def open_chip() -> Iterator[Transport]:
        from clerk_agent.card.virtual.idchips.slot import InProcessChipSlot

        yield InProcessChipSlot(chip())

    return open_chip


class VirtualDocuments:
    """The demo's document reader: one virtual document lies on it at a time, the one the clerk put there.

    A `ChipSource` (call it to open the reader). `present` swaps the document, as a clerk lifting one document
    and laying another would; each keeps its state (a licence's tries) while the agent runs.
    """

    def __init__(self, pki_dir: Path, person_key: str, document: str = "passport") -> None:
        self._sources: dict[str, ChipSource] = {
            "passport": virtual_chip_source(pki_dir, person_key),
            **{kind: virtual_jp_chip_source(pki_dir, kind) for kind in VIRTUAL_HOLDERS},
        }
        self.document = ""
        self.present(document)

    @property
    def choices(self) -> tuple[str, ...]:
        """The documents the demo can lay on the reader."""
        return tuple(self._sources)

    def present(self, document: str) -> None:
        """Lay `document` on the reader; ValueError for one the demo does not have."""
        if document not in self._sources:
            raise ValueError(f"no virtual {document}")
        self.document = document

    def __call__(self) -> contextlib.AbstractContextManager[Transport]:
        """Open the reader with the document on it now."""
        return self._sources[self.document]()


async def _submit(
    chips: DocumentChips, kind: ChipKind, read_in_thread: Callable[[], ChipRead], secrets: list[bytearray]
) -> JsonObject:
    """Run the read in a worker thread, send the objects to the hub, keep and return the answer."""
    case = chips.desk.case
    if case is None or case.case_id is None:
        for secret in secrets:
            wipe(secret)
        raise LookupError("no case at the hub yet")
    chips.reading = True
    try:
        read = await asyncio.to_thread(read_in_thread)
        answer = await chips.desk.client.submit_chip_readout(case.case_id, read.readout())
        chips.last = {**answer.model_dump(mode="json"), "apdus": read.apdu_count}
    except LicencePinIncorrect as wrong:
        chips.last = {
            "kind": kind.value,
            "verdict": "refused",
            "refusal_reason": "access_denied",
            "pin": wrong.which,
            "tries_left": wrong.retries_left,
        }
    except ChipAccessDenied:
        chips.last = {"kind": kind.value, "verdict": "refused", "refusal_reason": "access_denied"}
    except (PinBlocked, LastTryConfirmationRequired, NotThisDocument) as exc:
        chips.last = {"kind": kind.value, "verdict": "refused", "refusal_reason": exc.code}
    except AgentError as exc:
        logger.warning("%s read failed: %s", kind.value, exc.code)
        chips.last = {"kind": kind.value, "verdict": "refused", "refusal_reason": exc.code}
    except OSError as exc:
        # The demo's virtual documents need the test PKI's idchips/ folders (`hub dev-pki --force` writes them).
        logger.warning("no %s chip to read: %s", kind.value, type(exc).__name__)
        chips.last = {"kind": kind.value, "verdict": "refused", "refusal_reason": "reader_unavailable"}
    finally:
        chips.reading = False
        for secret in secrets:
            wipe(secret)
    return chips.last


async def read_residence_card(chips: DocumentChips, card_number: bytearray) -> JsonObject:
    """Open the residence card with the number the clerk typed (wiped) and have the hub verify what it holds."""

    def read() -> ChipRead:
        with chips.source() as transport:
            return ResidenceReader(transport).read(card_number)

    return await _submit(chips, ChipKind.residence_card, read, [card_number])


async def licence_tries(chips: DocumentChips) -> LicencePinStatus:
    """The licence's PIN setting and tries left, for the applicant's screen before it asks (spends no try)."""

    def read() -> LicencePinStatus:
        with chips.source() as transport:
            reader = LicenceReader(transport)
            reader.detect()
            return reader.pin_status()

    return await asyncio.to_thread(read)


async def read_licence(
    chips: DocumentChips, pin1: bytearray, pin2: bytearray, *, confirm_last_try: bool = False
) -> JsonObject:
    """Open the licence with the applicant's two PINs (wiped) and have the hub verify what it holds."""

    def read() -> ChipRead:
        with chips.source() as transport:
            return LicenceReader(transport).read(pin1, pin2, confirm_last_try=confirm_last_try)

    return await _submit(chips, ChipKind.driving_licence, read, [pin1, pin2])


async def detect_document(chips: DocumentChips) -> JpDetection:
    """Which Japanese document (or combined card) lies on the reader; selects by name only, reads nothing."""

    def detect() -> JpDetection:
        with chips.source() as transport:
            return detect_jp_document(transport)

    return await asyncio.to_thread(detect)
