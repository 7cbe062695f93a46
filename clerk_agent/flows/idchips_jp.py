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

from clerk_agent.card.idchips.base import ChipAccessDenied, ChipRead, NotThisDocument, wipe
from clerk_agent.card.idchips.jp_detect import JpDetection, detect_jp_document
from clerk_agent.card.idchips.licence import LicencePinIncorrect, LicencePinStatus, LicenceReader
from clerk_agent.card.idchips.residence import ResidenceReader
from clerk_agent.card.transport import Transport
from clerk_agent.errors import AgentError, LastTryConfirmationRequired, PinBlocked
from clerk_agent.flows.idchips import ChipSource, DocumentChips
from clerk_agent.link.hub import JsonObject
from service.wire.idchips import ChipKind

logger = logging.getLogger(__name__)


def virtual_jp_chip_source(pki_dir: Path, document: str, holder: str | None = None) -> ChipSource:
    """The demo's virtual licence or residence card (`driving_licence`, `residence_card`), in process."""

    @contextlib.contextmanager
    def open_chip() -> Iterator[Transport]:
        from clerk_agent.card.virtual.idchips.jp_pki import signer_from_dev_pki
        from clerk_agent.card.virtual.idchips.licence import build_virtual_licence
        from clerk_agent.card.virtual.idchips.residence import build_virtual_residence_card
        from clerk_agent.card.virtual.idchips.slot import InProcessChipSlot

        if document == "driving_licence":
            signer = signer_from_dev_pki(pki_dir, "driving_licence")
            yield InProcessChipSlot(build_virtual_licence(holder or "sato_ichiro", signer=signer))
        else:
            signer = signer_from_dev_pki(pki_dir, "residence_card")
            yield InProcessChipSlot(build_virtual_residence_card(holder or "nguyen_lan", signer=signer))

    return open_chip


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
