"""The J-LIS path run by the outbox worker: submit finalized applications, then poll until the card is produced.

Adapter calls happen outside any transaction; results are stored first and the case actions (as the system
principal) follow in their own transaction, so a crash in between repeats a question, never a lost answer.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import SYSTEM
from service.booths import service as booth_service
from service.cases import repository as case_repository
from service.cases import service as case_service
from service.cases.lifecycle import Action, CaseState
from service.cases.models import Case
from service.config import Settings
from service.db import unit_of_work
from service.errors import HubError
from service.evidence import repository as evidence_repository
from service.integrations import repository
from service.integrations.jlis import JlisAdapter, JlisApplication, JlisError, ProductionStatus
from service.integrations.models import JlisSubmission
from service.kit import clock
from service.outbox.events import EventType
from service.outbox.models import OutboxEvent

log = logging.getLogger(__name__)


async def application_for(session: AsyncSession, case: Case) -> JlisApplication:
    """The J-LIS application of a finalized case: evidence ids of the application photo and of the sealed PIN
    request (or the 顔認証 choice), never their content; for a renewal, what happens to the current card.

    The J-LIS gateway fetches what they name from the municipality's side; a case recorded before those items
    existed falls back to references by case.
    """
    items = await evidence_repository.items(session, case.id, ("application_photo", "pin_request"))
    live = [i for i in items if i.voided_at is None]
    photos = [i.id for i in live if i.kind == "application_photo"]
    pins = [i for i in live if i.kind == "pin_request"]
    photo_ref = photos[-1] if photos else f"{case.id}/application-photo"
    if not pins:
        pin_request_ref, old_card = f"{case.id}/pin-request", None
    else:
        pin = pins[-1]
        pin_request_ref = f"face_auth:{pin.id}" if pin.summary.get("face_auth") else pin.id
        old_card = pin.summary.get("old_card")
    return JlisApplication(
        case_id=case.id,
        municipality_code=case.municipality_code,
        shinseisho_id=case.shinseisho_id or "",
        photo_ref=photo_ref,
        pin_request_ref=pin_request_ref,
        procedure=case.procedure,
        old_card=str(old_card) if old_card is not None else None,
    )


class JlisSubmissionEffect:
    """At fan-out, a finalized case gets a pending J-LIS submission (in the fan-out's transaction)."""

    async def on_event(self, session: AsyncSession, event: OutboxEvent) -> None:
        """Create the submission row for `case.finalized`."""
        if event.event_type != EventType.case_finalized.value:
            return
        if await repository.jlis_submission(session, event.case_id) is not None:
            return
        now = clock.now()
        # A booth case waits for the hub's resident-record re-check before it goes (docs/booths.md §Recheck).
        status = await booth_service.submission_status_for(session, event.case_id)
        session.add(
            JlisSubmission(
                case_id=event.case_id,
                municipality_code=event.municipality_code,
                status=status,
                source="adapter",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )


class JlisJob:
    """Submits pending applications and asks J-LIS about accepted ones; drives the case as the system."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        adapter: JlisAdapter,
        *,
        poll: dt.timedelta,
        lease: dt.timedelta,
        settings: Settings,
        batch_size: int = 20,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._adapter = adapter
        self._poll = poll
        self._lease = lease
        self._settings = settings
        self._batch = batch_size

    async def next_due_at(self) -> dt.datetime | None:
        """The earliest due submission or production check."""
        async with unit_of_work(self._sessionmaker) as session:
            return await repository.jlis_next_due_at(session)

    async def run_due(self, owner: str) -> int:
        """Handle every due submission once."""
        now = clock.now()
        async with unit_of_work(self._sessionmaker) as session:
            claimed = await repository.claim_jlis(
                session, now=now, limit=self._batch, owner=owner, lease_until=now + self._lease
            )
            work = []
            for sub in claimed:
                case = await case_repository.get(session, sub.case_id)
                if case is None:
                    continue
                work.append((sub.case_id, sub.status, sub.receipt_id, await application_for(session, case)))
        for case_id, status, receipt_id, application in work:
            try:
                await self._handle(owner, case_id, status, receipt_id, application)
            except Exception:
                log.exception("J-LIS step for case %s failed; retried after the lease", case_id)
        return len(work)

    async def _handle(
        self, owner: str, case_id: str, status: str, receipt_id: str | None, application: JlisApplication
    ) -> None:
        production: ProductionStatus | None = None
        error: JlisError | None = None
        try:
            if receipt_id is None:
                receipt_id = await self._adapter.submit(application)
            elif status == "accepted":
                production = await self._adapter.production_status(receipt_id)
        except JlisError as exc:
            error = exc
        async with unit_of_work(self._sessionmaker) as session:
            sub = await repository.leased_jlis(session, case_id=case_id, owner=owner)
            if sub is None:
                return  # the lease ran out and another process has it
            now = clock.now()
            sub.lease_owner = None
            sub.lease_until = None
            sub.updated_at = now
            if error is not None:
                sub.attempts += 1
                sub.last_error = str(error)[:200]
                if not error.retriable:
                    sub.status = "failed"
                else:
                    sub.next_attempt_at = now + min(self._poll * 2**sub.attempts, dt.timedelta(hours=1))
                return
            if sub.receipt_id is None:
                sub.receipt_id = receipt_id
                sub.status = "accepted"
                sub.submitted_at = now
            elif production is ProductionStatus.produced:
                sub.status = "produced"
                sub.produced_at = now
            elif production is ProductionStatus.failed:
                sub.status = "failed"
            sub.next_attempt_at = now + self._poll
        await self._advance(case_id)

    async def _advance(self, case_id: str) -> None:
        """Bring the case in line with its submission (submitted, produced) as the system principal."""
        try:
            async with unit_of_work(self._sessionmaker) as session:
                action = await self._advance_in(session, case_id)
        except HubError as exc:
            # e.g. an officer acted on the case at the same moment (409): the next pass looks again.
            log.warning("J-LIS: case %s could not advance now: %s", case_id, exc.code)
            return
        if action is Action.submit_to_jlis:
            await self._advance(case_id)  # the card may already be reported produced

    async def _advance_in(self, session: AsyncSession, case_id: str) -> Action | None:
        sub = await repository.jlis_submission(session, case_id)
        case = await case_repository.get(session, case_id)
        if sub is None or case is None:
            return None
        state = CaseState(case.state)
        if sub.status in ("accepted", "produced") and state is CaseState.pin_request_sealed:
            action = Action.submit_to_jlis
        elif sub.status == "produced" and state is CaseState.submitted_to_jlis:
            action = Action.record_card_produced
        else:
            if sub.status in ("pending", "accepted") and state not in (
                CaseState.pin_request_sealed,
                CaseState.submitted_to_jlis,
            ):
                sub.status = "abandoned"  # withdrawn, cancelled, or produced as reported by the back office
            return None
        await case_service.act(
            session,
            principal=SYSTEM,
            case=case,
            action=action,
            reason_code=None,
            attested=False,
            expected_version=None,
            answers=None,
            settings=self._settings,
        )
        return action
