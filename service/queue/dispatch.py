"""The queue's side of a case transition: random offers with an accept timeout, no-answer penalty, wrap-up.

Called by the case's one transition function (service/cases/service.py `act`) in the transition's
transaction, so no path that moves a case (REST, integrations, the J-LIS job, the PIN request) skips it.
Random assignment keeps an officer from choosing whom to verify (docs/domain.md §A4).
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal, PrincipalKind, Role
from service.audit import service as audit
from service.cases.lifecycle import Action
from service.cases.models import Case
from service.config import Settings
from service.kit import clock
from service.kit.ids import random_id
from service.observability.metrics import count_offer
from service.queue import bell, repository
from service.queue.models import CaseOffer

_random = secrets.SystemRandom()
DECISION_ACTIONS = frozenset({Action.approve, Action.reject, Action.refer_to_counter, Action.abort})


def system() -> Principal:
    """The dispatcher acts as the system."""
    return Principal(kind=PrincipalKind.system, id="system")


async def expire_offers(
    session: AsyncSession, *, settings: Settings, municipality_code: str | None = None
) -> int:
    """Close lapsed offers and keep their officers out of the rotation for the penalty time."""
    now = clock.now()
    lapsed = await repository.overdue_offers(session, now, municipality_code)
    for offer in lapsed:
        offer.outcome, offer.responded_at = "expired", now
        count_offer(session, offer_id=offer.id, municipality_code=offer.municipality_code, outcome="expired")
        bell.note_offer(session, offer.officer_id)  # the console showing it learns at once
        presence = await repository.presence(session, offer.officer_id)
        if presence is not None:
            presence.penalty_until = now + dt.timedelta(seconds=settings.offer_no_answer_penalty_seconds)
        await audit.record(
            session,
            actor=system(),
            action="queue.offer_expired",
            municipality_code=offer.municipality_code,
            case_id=offer.case_id,
            object_type="account",
            object_id=offer.officer_id,
        )
    if lapsed:
        await session.flush()
    return len(lapsed)


async def dispatch(session: AsyncSession, *, municipality_code: str, settings: Settings) -> list[CaseOffer]:
    """Offer each waiting case (oldest first) to one eligible officer chosen at random.

    Only the officer chosen for a case is locked (`claim_officer`), for the rest of the transaction; an officer
    another transaction holds is skipped, and if a case stays unoffered for that reason alone the dispatcher is
    nudged to look again once this transaction commits.
    """
    now = clock.now()
    await expire_offers(session, settings=settings, municipality_code=municipality_code)
    fresh_after = now - dt.timedelta(seconds=settings.presence_stale_seconds)
    officers = list(
        await repository.eligible_officers(session, municipality_code, now=now, fresh_after=fresh_after)
    )
    if not officers:
        return []
    cases = await repository.queued_without_offer(session, municipality_code, limit=len(officers) * 4)
    excluded = await repository.excluded_officers_of(session, [case.id for case in cases])
    offers: list[CaseOffer] = []
    contended = False
    for case in cases:
        barred = excluded.get(case.id, set())
        while candidates := [o for o in officers if o not in barred]:
            officer_id = _random.choice(candidates)
            officers.remove(officer_id)
            claim = await repository.claim_officer(
                session, officer_id, municipality_code, now=now, fresh_after=fresh_after
            )
            if claim is repository.Claim.claimed:
                offers.append(
                    await offer(
                        session, case=case, officer_id=officer_id, assigned_by=None, settings=settings
                    )
                )
                break
            contended = contended or claim is repository.Claim.busy
        if not officers:
            break
    if contended and len(offers) < len(cases):
        bell.nudge_dispatcher(session)
    return offers


async def offer(
    session: AsyncSession, *, case: Case, officer_id: str, assigned_by: str | None, settings: Settings
) -> CaseOffer:
    """Offer `case` to one officer, chosen at random or named by a supervisor (`assigned_by`)."""
    now = clock.now()
    made = CaseOffer(
        id=random_id("offer"),
        case_id=case.id,
        officer_id=officer_id,
        municipality_code=case.municipality_code,
        outcome="pending",
        assigned_by=assigned_by,
        offered_at=now,
        expires_at=now + dt.timedelta(seconds=settings.offer_accept_timeout_seconds),
    )
    session.add(made)
    await session.flush()
    count_offer(session, offer_id=made.id, municipality_code=made.municipality_code, outcome="offered")
    bell.note_offer(session, officer_id)
    await audit.record(
        session,
        actor=system(),
        action="queue.offered",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="account",
        object_id=officer_id,
        reason_code="reassigned" if assigned_by else "random",
    )
    return made


async def lock_pending_offers(session: AsyncSession, case: Case) -> None:
    """Lock the case's pending offers (waiting for a decline or accept that holds one) before a withdrawal."""
    await repository.pending_offers_of_case(session, case.id)


async def on_transition(
    session: AsyncSession, *, case: Case, action: Action, principal: Principal, settings: Settings
) -> None:
    """Queue bookkeeping after a case action: offer newly queued cases; wrap-up after the officer's decision."""
    if action in (Action.request_verification, Action.requeue):
        await dispatch(session, municipality_code=case.municipality_code, settings=settings)
    elif action in (Action.withdraw,):
        now = clock.now()
        for pending in await repository.pending_offers_of_case(session, case.id):
            pending.outcome, pending.responded_at = "withdrawn", now
            count_offer(
                session, offer_id=pending.id, municipality_code=pending.municipality_code, outcome="withdrawn"
            )
            bell.note_offer(session, pending.officer_id)  # the console showing it learns at once
    elif (
        action in DECISION_ACTIONS
        and principal.kind is PrincipalKind.account
        and principal.role is Role.officer
    ):
        presence = await repository.presence(session, principal.id)
        if presence is not None:
            presence.wrapup_until = clock.now() + dt.timedelta(seconds=settings.officer_wrapup_seconds)


async def tick(session: AsyncSession, *, settings: Settings) -> int:
    """One dispatcher pass over every municipality with work; returns offers made."""
    made = 0
    for municipality_code in await repository.municipalities_with_work(session, clock.now()):
        made += len(await dispatch(session, municipality_code=municipality_code, settings=settings))
    return made
