"""The officer's notes on a case: free text that may hold personal data, so stored like evidence (encrypted).

A note is an evidence item of kind `officer_note` whose text lives in an encrypted blob bound to the case
(service.kit.envelope), under the same retention, legal hold and crypto-shredding as stills. Notes are
append-only: nobody edits or deletes one. The audit trail records that a note was written or read, never its text.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.models import Account
from service.accounts.roles import Principal
from service.audit import service as audit
from service.cases.models import Case
from service.evidence import repository as evidence_repository
from service.evidence.exceptions import EvidencePurged
from service.evidence.models import EvidenceItem
from service.evidence.runtime import EvidenceRuntime
from service.evidence.service import open_blob, require_evidence_reader, store_blob
from service.kit import clock
from service.kit.ids import random_id
from service.review.schemas import NoteRead

KIND = "officer_note"
FIELD = "text"


def _require_writer(principal: Principal, case: Case) -> None:
    """The officer assigned to the case, or a supervisor of its municipality, writes notes."""
    require_evidence_reader(principal, case, "notes are written by the assigned officer or a supervisor")


async def add_note(
    session: AsyncSession, *, principal: Principal, case: Case, text: str, runtime: EvidenceRuntime
) -> NoteRead:
    """Store one note encrypted; the audit row says only that a note was written."""
    _require_writer(principal, case)
    now = clock.now()
    item = EvidenceItem(
        id=random_id("evd"),
        case_id=case.id,
        kind=KIND,
        device_id=None,
        summary={"author_id": principal.id, "author_role": principal.role.value if principal.role else None},
        ok=True,
        created_at=now,
    )
    session.add(item)
    await session.flush()
    await store_blob(
        session, runtime, item=item, field=FIELD, content_type="text/plain; charset=utf-8", data=text.encode()
    )
    await audit.record(
        session,
        actor=principal,
        action="review.note_added",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="evidence",
        object_id=item.id,
    )
    author = await session.get(Account, principal.id)
    return NoteRead(
        id=item.id,
        author_id=principal.id,
        author_name=author.display_name if author else None,
        created_at=now,
        text=text,
        purged=False,
    )


async def list_notes(
    session: AsyncSession, *, principal: Principal, case: Case, runtime: EvidenceRuntime
) -> list[NoteRead]:
    """The case's notes, oldest first, for its officer or a supervisor; the reading is one audit row."""
    require_evidence_reader(principal, case)
    notes: list[NoteRead] = []
    names: dict[str, str | None] = {}
    for item in await evidence_repository.items(session, case.id, (KIND,)):
        author_id = str(item.summary.get("author_id", ""))
        if author_id not in names:
            account = await session.get(Account, author_id) if author_id else None
            names[author_id] = account.display_name if account else None
        blob = await evidence_repository.blob_of(session, item.id, FIELD)
        text: str | None = None
        if blob is not None:
            try:
                text = open_blob(runtime, blob).decode()
            except EvidencePurged:
                text = None
        notes.append(
            NoteRead(
                id=item.id,
                author_id=author_id,
                author_name=names[author_id],
                created_at=item.created_at,
                text=text,
                purged=text is None,
            )
        )
    await audit.record(
        session,
        actor=principal,
        action="review.notes_viewed",
        municipality_code=case.municipality_code,
        case_id=case.id,
    )
    return notes
