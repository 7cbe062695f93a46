"""The clerk's chip read of the applicant's ID document (本人確認書類のICチップ) for the current case.

The clerk types the access data from the document (a passport's document number, birth date and expiry from its
MRZ); the read runs in a worker thread, the access data stays in that thread and the reader, and only the signed
objects go to the hub, which answers with its verdict and each check (docs/id-documents.md §Counter).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from clerk_agent.card.idchips.base import ChipAccessDenied, ChipRead, NotThisDocument
from clerk_agent.card.idchips.passport import MrzAccess, PassportReader
from clerk_agent.card.transport import Transport
from clerk_agent.errors import AgentError, ReaderUnavailable
from clerk_agent.link.hub import JsonObject
from service.wire.idchips import ChipKind

if TYPE_CHECKING:
    from clerk_agent.flows.desk import Desk

logger = logging.getLogger(__name__)
# Opens the document reader for one read and closes (resets) it afterwards.
ChipSource = Callable[[], contextlib.AbstractContextManager[Transport]]


def virtual_chip_source(pki_dir: Path, person_key: str) -> ChipSource:
    """The demo's virtual passport of the virtual card's person, in process."""

    @contextlib.contextmanager
    def open_chip() -> Iterator[Transport]:
        from clerk_agent.card.virtual.idchips.passport import passport_from_dev_pki
        from clerk_agent.card.virtual.idchips.slot import InProcessChipSlot

        yield InProcessChipSlot(passport_from_dev_pki(pki_dir, person_key))

    return open_chip


def pcsc_chip_source(reader: str) -> ChipSource:
    """A contactless reader by its PC/SC name (contactless readers appear as PC/SC readers)."""

    @contextlib.contextmanager
    def open_chip() -> Iterator[Transport]:
        from clerk_agent.card import pcsc

        transport = pcsc.connect_with_backoff(reader, timeout=5)
        try:
            yield transport
        finally:
            transport.close()

    return open_chip


@contextlib.contextmanager
def no_chip_reader() -> Iterator[Transport]:
    """No document reader configured."""
    raise ReaderUnavailable("no ID-document reader is configured")
    yield  # pragma: no cover -- a generator, for the context manager


class DocumentChips:
    """The chip reads of the current case and the hub's answer to the last one, for the clerk's screen."""

    def __init__(self, desk: Desk, source: ChipSource) -> None:
        self.desk = desk
        self.source = source
        self.last: JsonObject | None = None
        self.reading = False
        # The document the clerk said the applicant brought: it decides which access data each screen asks for
        # (the clerk types a passport's MRZ or a residence card's number; the applicant types a licence's PINs).
        self.document: ChipKind | None = None
        # The applicant stopped the licence PIN entry on their screen (forgotten PINs): the clerk is told and
        # chooses again (the document on camera, or another document).
        self.declined = False

    def choose(self, document: str | None) -> None:
        """The clerk's choice of document (`None`: back to the choice); ValueError for an unknown kind."""
        self.document = ChipKind(document) if document else None
        self.declined = False

    def _read_passport(self, access: MrzAccess) -> ChipRead:
        with self.source() as transport:
            return PassportReader(transport, access).read()

    async def read_passport(self, document_number: str, birth: str, expiry: str) -> JsonObject:
        """Read the passport's chip with its MRZ data and have the hub verify it; the result is kept in `last`."""
        case = self.desk.case
        if case is None or case.case_id is None:
            raise LookupError("no case at the hub yet")
        access = MrzAccess(
            document_number.strip().upper(), birth.strip(), expiry.strip()
        )  # ValueError: shape
        self.reading = True
        try:
            read = await asyncio.to_thread(self._read_passport, access)
            del access  # the access data is not kept past the read
            answer = await self.desk.client.submit_chip_readout(case.case_id, read.readout())
            self.last = {**answer.model_dump(mode="json"), "apdus": read.apdu_count}
        except ChipAccessDenied:
            self.last = {
                "kind": ChipKind.passport.value,
                "verdict": "refused",
                "refusal_reason": "access_denied",
            }
        except NotThisDocument:
            self.last = {
                "kind": ChipKind.passport.value,
                "verdict": "refused",
                "refusal_reason": NotThisDocument.code,
            }
        except AgentError as exc:
            logger.warning("passport read failed: %s", exc.code)
            self.last = {"kind": ChipKind.passport.value, "verdict": "refused", "refusal_reason": exc.code}
        except OSError as exc:
            # The demo's virtual passport needs the test PKI's idchips/ folder (`hub dev-pki --force` writes it).
            logger.warning("no document chip to read: %s", type(exc).__name__)
            self.last = {
                "kind": ChipKind.passport.value,
                "verdict": "refused",
                "refusal_reason": "reader_unavailable",
            }
        finally:
            self.reading = False
        return self.last

    def clear(self) -> None:
        """A new case starts without a chip result or a chosen document."""
        self.last = None
        self.document = None
        self.declined = False
