"""Rules of the review: only the assigned officer records it; approval needs a complete, continuous, fresh review.

Continuity (NIST SP 800-63A remote attended; BaFin): the applicant stays in view from evidence to decision. A video
drop resets `continuity_since`, and liveness and chip evidence taken before it no longer count — they are redone.
An abort ends the call itself: the review starts afresh in the next call (`restart`), checklist included.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal, PrincipalKind, Role
from service.audit import service as audit
from service.cases.exceptions import NotAssigned
from service.cases.lifecycle import CaseState
from service.cases.models import Case
from service.errors import Conflict, NotFound, PermissionDenied
from service.evidence import repository as evidence_repository
from service.kit import clock
from service.kit.ids import random_id
from service.review.models import CaseReview, LivenessChallenge
from service.review.schemas import (
    Checklist,
    IdCombination,
    LivenessIssued,
    LivenessRead,
    ReviewRead,
    VideoState,
)

GESTURES: dict[str, tuple[str, str]] = {
    "turn_right": ("顔をゆっくり右に向けてください", "Slowly turn your head to the right"),
    "turn_left": ("顔をゆっくり左に向けてください", "Slowly turn your head to the left"),
    "raise_left_hand": ("左手を挙げてください", "Raise your left hand"),
    "id_beside_face": ("本人確認書類を顔の横に持ってください", "Hold your ID next to your face"),
    "blink_twice": ("2回まばたきをしてください", "Blink twice"),
    "nod": ("ゆっくりうなずいてください", "Nod slowly"),
}
LIVE_REVIEW_STATES = frozenset(
    {CaseState.session_live, CaseState.evidence_captured, CaseState.officer_review}
)


class ReviewIncomplete(Conflict):
    code = "review_incomplete"
    title = "The review is not complete: see `missing`"


class ReviewClosed(Conflict):
    code = "review_closed"
    title = "The case is not in a live review"


class LivenessNotFound(NotFound):
    code = "liveness_not_found"
    title = "No such liveness challenge for this case"


def _require_assigned(principal: Principal, case: Case) -> None:
    if principal.kind is not PrincipalKind.account or principal.role is not Role.officer:
        raise PermissionDenied("only the assigned officer records the review")
    if case.officer_id != principal.id:
        raise NotAssigned()


def _require_live(case: Case) -> None:
    if CaseState(case.state) not in LIVE_REVIEW_STATES:
        raise ReviewClosed(f"state is {case.state}")


async def _review(session: AsyncSession, case: Case) -> CaseReview:
    review = await session.get(CaseReview, case.id, with_for_update=True)
    if review is None:
        review = CaseReview(case_id=case.id, checklist={}, video_live=False, drops=0, updated_at=clock.now())
        session.add(review)
        await session.flush()
    return review


def phrase(code: str, gesture: str) -> tuple[str, str, str, str]:
    """(phrase_ja, phrase_en, gesture_ja, gesture_en) of a challenge."""
    spaced = " ".join(code)
    gesture_ja, gesture_en = GESTURES[gesture]
    return (
        f"次の数字を読み上げてください：{spaced}",
        f"Please read out these digits: {spaced}",
        gesture_ja,
        gesture_en,
    )


async def issue_liveness(session: AsyncSession, *, principal: Principal, case: Case) -> LivenessIssued:
    """A fresh random challenge (4 digits to read out and a gesture), recorded for the case."""
    _require_assigned(principal, case)
    _require_live(case)
    challenge = LivenessChallenge(
        id=random_id("live"),
        case_id=case.id,
        officer_id=principal.id,
        code=f"{secrets.randbelow(10_000):04d}",
        gesture=secrets.choice(sorted(GESTURES)),
        created_at=clock.now(),
    )
    session.add(challenge)
    await session.flush()
    await audit.record(
        session,
        actor=principal,
        action="review.liveness_issued",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="liveness_challenge",
        object_id=challenge.id,
    )
    ja, en, gja, gen = phrase(challenge.code, challenge.gesture)
    return LivenessIssued(
        id=challenge.id,
        code=challenge.code,
        gesture=challenge.gesture,
        phrase_ja=ja,
        phrase_en=en,
        gesture_ja=gja,
        gesture_en=gen,
        created_at=challenge.created_at,
    )


async def record_liveness(
    session: AsyncSession, *, principal: Principal, case: Case, challenge_id: str, passed: bool
) -> LivenessChallenge:
    """The officer's verdict on a challenge (once)."""
    _require_assigned(principal, case)
    _require_live(case)
    challenge = await session.get(LivenessChallenge, challenge_id) if len(challenge_id) <= 40 else None
    if challenge is None or challenge.case_id != case.id:
        raise LivenessNotFound()
    if challenge.passed is not None:
        raise Conflict("this challenge already has a result")
    challenge.passed, challenge.answered_at = passed, clock.now()
    await audit.record(
        session,
        actor=principal,
        action="review.liveness_result",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="liveness_challenge",
        object_id=challenge.id,
        reason_code="passed" if passed else "failed",
    )
    return challenge


async def set_checklist(
    session: AsyncSession, *, principal: Principal, case: Case, checklist: Checklist
) -> CaseReview:
    """Record the officer's checklist (replaces the previous answers)."""
    _require_assigned(principal, case)
    _require_live(case)
    review = await _review(session, case)
    review.checklist = checklist.model_dump(mode="json")
    review.updated_at = clock.now()
    await audit.record(
        session,
        actor=principal,
        action="review.checklist",
        municipality_code=case.municipality_code,
        case_id=case.id,
        reason_code=checklist.id_combination.value,
    )
    return review


async def video_status(
    session: AsyncSession, *, principal: Principal, case: Case, state: VideoState
) -> CaseReview:
    """The console reports the counter's video live or lost; a loss breaks continuity."""
    _require_assigned(principal, case)
    _require_live(case)
    review = await _review(session, case)
    now = clock.now()
    if state is VideoState.live and not review.video_live:
        review.video_live, review.continuity_since = True, now
        await audit.record(
            session,
            actor=principal,
            action="review.video_live",
            municipality_code=case.municipality_code,
            case_id=case.id,
        )
    elif state is VideoState.lost and review.video_live:
        review.video_live, review.continuity_since = False, None
        review.drops += 1
        await audit.record(
            session,
            actor=principal,
            action="review.video_lost",
            municipality_code=case.municipality_code,
            case_id=case.id,
            reason_code="network",
        )
    review.updated_at = now
    return review


async def restart(session: AsyncSession, *, case: Case) -> None:
    """The session was aborted: nothing seen in that call counts for the next one (as after a video drop).

    The console may never report the video lost (the call ended rather than dropped), so the abort itself clears
    the video's continuity, and the checklist the officer filled in while looking at that call.
    """
    review = await session.get(CaseReview, case.id, with_for_update=True)
    if review is None:
        return
    if review.video_live or review.continuity_since is not None or review.checklist:
        review.drops += 1
    review.video_live, review.continuity_since, review.checklist = False, None, {}
    review.updated_at = clock.now()


async def status(session: AsyncSession, *, case: Case, in_person: bool = False) -> ReviewRead:
    """The review and what approval still needs.

    `in_person`: a booth case (docs/booths.md §Decision), where the officer sees the applicant face to face: the
    checklist and a card proof where the ID combination needs one still count, the video and liveness do not.
    """
    in_person = in_person or case.channel == "booth"
    review = await session.get(CaseReview, case.id)
    challenges = list(
        (
            await session.execute(
                select(LivenessChallenge)
                .where(LivenessChallenge.case_id == case.id)
                .order_by(LivenessChallenge.created_at)
            )
        ).scalars()
    )
    missing: list[str] = []
    checklist = (
        Checklist.model_validate(review.checklist) if review is not None and review.checklist else None
    )
    since = review.continuity_since if review is not None else None
    if checklist is None:
        missing.append("checklist_missing")
    elif not all(
        (
            checklist.face_match,
            checklist.attributes_match,
            checklist.eligibility_confirmed,
            checklist.documents_authentic,
        )
    ):
        missing.append("checklist_negative")
    if not in_person and (review is None or not review.video_live or since is None):
        missing.append("video_not_live")
    fresh = since is not None and any(c.passed and c.created_at >= since for c in challenges)
    if not fresh and not in_person:
        missing.append("liveness_missing")
    needs_chip = checklist is not None and checklist.id_combination is IdCombination.my_number_card_ic
    if needs_chip:
        proofs = await evidence_repository.items(session, case.id, ("card_proof",))
        if not any(
            p.ok and p.voided_at is None and (in_person or (since is not None and p.created_at >= since))
            for p in proofs
        ):
            missing.append("card_proof_missing")
    if checklist is not None and checklist.documents_authentic_basis == "chip_verified":
        chips = await evidence_repository.items(session, case.id, ("chip_document",))
        if not any(
            c.ok and c.voided_at is None and since is not None and c.created_at >= since for c in chips
        ):
            missing.append("chip_document_missing")
    binding = await evidence_repository.binding(session, case.id)
    if binding is not None and binding.swap_detected_at is not None:
        missing.append("card_swap")
    drops = review.drops if review is not None else 0
    return ReviewRead(
        case_id=case.id,
        checklist=checklist,
        liveness=[LivenessRead.model_validate(c) for c in challenges],
        video_live=bool(review and review.video_live),
        continuity_since=since,
        drops=drops,
        redo_required=drops > 0 and bool({"liveness_missing", "card_proof_missing"} & set(missing)),
        ready_to_decide=not missing,
        missing=missing,
    )


async def require_ready(session: AsyncSession, *, case: Case, in_person: bool = False) -> None:
    """Refuse an approval unless the review is complete, continuous and fresh (complete, for `in_person`)."""
    current = await status(session, case=case, in_person=in_person)
    if current.missing:
        raise ReviewIncomplete(", ".join(current.missing), missing=current.missing)
