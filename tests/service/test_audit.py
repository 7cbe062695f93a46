"""The audit chain: one row per committed transition, verification that locates tampering, auditor access."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.models import Account
from service.accounts.roles import SYSTEM, Principal, PrincipalKind, Role, Scope
from service.audit import service as audit_service
from service.audit.models import AuditChainHead, AuditEvent
from service.cases import service as case_service
from service.cases.eligibility import EligibilityAnswers
from service.cases.lifecycle import REASONS, TERMINAL_STATES, Action, CaseState
from service.cases.models import Case, CaseStateEntry
from service.config import Settings
from service.db import unit_of_work
from service.errors import HubError
from service.tenancy.codes import Procedure
from tests.factories import World, shinseisho_id
from tests.service.conftest import ELIGIBLE, CaseDriver

TZ = __import__("zoneinfo").ZoneInfo("Asia/Tokyo")


async def _verify(sessionmaker: async_sessionmaker[AsyncSession]) -> list[audit_service.ChainReport]:
    async with sessionmaker() as session:
        return await audit_service.verify_all(session)


async def test_chain_intact_after_activity(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case = await driver.to_review()
    await driver.officer(case["id"], "approve", attested=True)
    reports = await _verify(sessionmaker)
    assert reports
    assert all(r.ok for r in reports), reports
    by_chain = {r.chain: r for r in reports}
    assert by_chain[world.a.municipality_code].rows > 8


@pytest.mark.parametrize("column", ["action", "actor_id", "to_state", "reason_code", "occurred_at"])
async def test_altered_row_is_located(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession], column: str
) -> None:
    case = await driver.to_review()
    async with unit_of_work(sessionmaker) as session:
        target = (
            await session.execute(
                select(AuditEvent).where(AuditEvent.case_id == case["id"], AuditEvent.action == "case.accept")
            )
        ).scalar_one()
        value = {
            "action": "case.approve",
            "actor_id": "acct_forged",
            "to_state": "approved",
            "reason_code": "x",
            "occurred_at": target.occurred_at.replace(year=2020),
        }[column]
        await session.execute(update(AuditEvent).where(AuditEvent.id == target.id).values({column: value}))
        seq = target.seq
    reports = {r.chain: r for r in await _verify(sessionmaker)}
    broken = reports[world.a.municipality_code]
    assert not broken.ok
    assert broken.first_broken_seq == seq
    assert reports[world.b.municipality_code].ok


async def test_deleted_row_is_located(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case = await driver.to_review()
    async with unit_of_work(sessionmaker) as session:
        target = (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.case_id == case["id"], AuditEvent.action == "case.check_in"
                )
            )
        ).scalar_one()
        await session.execute(delete(AuditEvent).where(AuditEvent.id == target.id))
    broken = {r.chain: r for r in await _verify(sessionmaker)}[world.a.municipality_code]
    assert not broken.ok
    assert broken.first_broken_seq == target.seq


async def test_truncated_tail_is_detected(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await driver.to_review()
    async with unit_of_work(sessionmaker) as session:
        last = await session.scalar(
            select(func.max(AuditEvent.seq)).where(AuditEvent.chain == world.a.municipality_code)
        )
        await session.execute(
            delete(AuditEvent).where(AuditEvent.chain == world.a.municipality_code, AuditEvent.seq == last)
        )
    broken = {r.chain: r for r in await _verify(sessionmaker)}[world.a.municipality_code]
    assert not broken.ok
    assert "head" in (broken.problem or "")


async def test_rehashed_forgery_still_breaks_the_next_link(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Recomputing the forged row's own hash is not enough: the next row's prev_hash no longer matches."""
    from service.audit.chain import row_hash

    case = await driver.to_review()
    async with unit_of_work(sessionmaker) as session:
        target = (
            await session.execute(
                select(AuditEvent).where(AuditEvent.case_id == case["id"], AuditEvent.action == "case.accept")
            )
        ).scalar_one()
        target.actor_id = "acct_forged"
        target.hash = row_hash(audit_service._fields(target), target.prev_hash)
        seq = target.seq
    broken = {r.chain: r for r in await _verify(sessionmaker)}[world.a.municipality_code]
    assert not broken.ok
    assert broken.first_broken_seq == seq + 1


async def test_audit_rows_hold_no_personal_data(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case = await driver.to_review()
    async with sessionmaker() as session:
        rows = (await session.execute(select(AuditEvent))).scalars().all()
    text = repr([r.__dict__ for r in rows])
    assert case["shinseisho_id"] not in text
    for secret in ("correct-horse-battery-staple", "甲市", "架空町"):
        assert secret not in text


async def test_auditor_reads_own_chain_only(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    case = await driver.to_review()
    page = (
        await client.get(
            "/api/v1/audit/events", params={"case_id": case["id"]}, headers=world.h("a", Role.auditor)
        )
    ).json()
    actions = [e["action"] for e in page["items"]]
    assert actions == [
        "case.created",
        "case.check_in",
        "case.precheck",
        *["case.consent_recorded"] * 3,  # recording, id_copy, pin_entry (code:version only)
        "case.request_verification",
        "queue.offered",
        "case.accept",
        "evidence.still_added",
        "case.capture_evidence",
        "case.begin_review",
        "review.video_live",
        "review.checklist",
        "review.liveness_issued",
        "review.liveness_result",
    ]
    verify = (await client.get("/api/v1/audit/verify", headers=world.h("a", Role.auditor))).json()
    assert verify["ok"] is True
    assert verify["chain"] == world.a.municipality_code
    other = (
        await client.get(
            "/api/v1/audit/events", params={"case_id": case["id"]}, headers=world.h("b", Role.auditor)
        )
    ).json()
    assert other["items"] == []
    assert (await client.get("/api/v1/audit/events", headers=world.h("a", Role.officer))).status_code == 403


# ---- property: random actions through the service layer on the real database ---------------------------------

ACTIONS = list(Action)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    procedure=st.sampled_from(
        [Procedure.card_application, Procedure.pin_reset, Procedure.application_support]
    ),
    steps=st.lists(
        st.tuples(
            st.sampled_from(ACTIONS),
            st.sampled_from(["device", "officer", "supervisor", "integration", "system"]),
        ),
        max_size=25,
    ),
)
async def test_every_committed_transition_has_one_audit_row(
    world: World,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    procedure: Procedure,
    steps: list[tuple[Action, str]],
) -> None:
    async with sessionmaker() as session:
        officer_id = await session.scalar(
            select(Account.id).where(Account.username == world.a.usernames[Role.officer])
        )
    assert officer_id is not None
    principals = {
        "device": Principal(
            kind=PrincipalKind.device, id=world.a.device_id, post_office_id=world.a.post_office_id
        ),
        "officer": Principal(
            kind=PrincipalKind.account,
            id=officer_id,
            role=Role.officer,
            municipality_code=world.a.municipality_code,
        ),
        "supervisor": Principal(
            kind=PrincipalKind.account,
            id="acct_sup",
            role=Role.supervisor,
            municipality_code=world.a.municipality_code,
        ),
        "integration": Principal(
            kind=PrincipalKind.integration,
            id="intc_x",
            municipality_code=world.a.municipality_code,
            scopes=frozenset(Scope),
        ),
        "system": SYSTEM,
    }
    async with unit_of_work(sessionmaker) as session:
        case = await case_service.create(
            session,
            principal=principals["device"],
            municipality_code=world.a.municipality_code,
            procedure=procedure,
            shinseisho_id=shinseisho_id() if procedure is Procedure.card_application else None,
            tz=TZ,
        )
        case_id = case.id
    committed = 0
    for action, who in steps:
        reasons = sorted(REASONS.get(action, ()))
        try:
            async with unit_of_work(sessionmaker) as session:
                current = await session.get(Case, case_id)
                assert current is not None
                await case_service.act(
                    session,
                    principal=principals[who],
                    case=current,
                    action=action,
                    reason_code=reasons[0] if reasons else None,
                    attested=True,
                    expected_version=None,
                    answers=EligibilityAnswers(**ELIGIBLE) if action is Action.precheck else None,
                    settings=settings,
                )
            committed += 1
        except HubError:
            pass
    async with sessionmaker() as session:
        final = await session.get(Case, case_id)
        assert final is not None
        transitions = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.case_id == case_id, AuditEvent.action != "case.created")
        )
        entries = await session.scalar(
            select(func.count()).select_from(CaseStateEntry).where(CaseStateEntry.case_id == case_id)
        )
        decided_by = (
            (
                await session.execute(
                    select(AuditEvent.actor_role).where(
                        AuditEvent.case_id == case_id,
                        AuditEvent.action.in_(["case.approve", "case.reject", "case.refer_to_counter"]),
                    )
                )
            )
            .scalars()
            .all()
        )
    assert transitions == committed
    assert entries == committed + 1
    assert final.version == committed + 1
    assert set(decided_by) <= {"officer"}
    assert CaseState(final.state) in set(CaseState)
    if CaseState(final.state) in TERMINAL_STATES:
        assert final.active_shinseisho_id is None
    reports = await _verify(sessionmaker)
    assert all(r.ok for r in reports)


async def test_head_row_exists_per_chain(
    world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        chains = set((await session.execute(select(AuditChainHead.chain))).scalars())
    assert {world.a.municipality_code, world.b.municipality_code, "system"} <= chains


# ---- signed checkpoints -------------------------------------------------------------------------------------


async def test_checkpoint_catches_a_fully_rehashed_rewrite(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """An insider who rewrites a row and recomputes every later hash passes the chain walk — not the signed checkpoint."""
    from service.audit.chain import row_hash
    from service.audit.checkpoints import checkpoint_all, load_signing_key, verify_checkpoints

    key = load_signing_key(settings)
    case = await driver.to_review()
    async with unit_of_work(sessionmaker) as session:
        made = await checkpoint_all(session, key=key)
    assert {cp.chain for cp in made} >= {world.a.municipality_code, "system"}
    async with sessionmaker() as session:
        assert await verify_checkpoints(session, trusted={key.key_id: key.public}) == (len(made), [])
    async with unit_of_work(sessionmaker) as session:
        rows = list(
            (
                await session.execute(
                    select(AuditEvent)
                    .where(AuditEvent.chain == world.a.municipality_code)
                    .order_by(AuditEvent.seq)
                )
            ).scalars()
        )
        forged = next(r for r in rows if r.case_id == case["id"] and r.action == "case.accept")
        forged.actor_id = "acct_forged"
        prev = "0" * 64
        for row in rows:
            row.prev_hash = prev
            row.hash = row_hash(audit_service._fields(row), prev)
            prev = row.hash
        head = await session.get(AuditChainHead, world.a.municipality_code)
        assert head is not None
        head.head_hash = prev
    assert all(r.ok for r in await _verify(sessionmaker))  # the walk alone is fooled
    async with sessionmaker() as session:
        _, problems = await verify_checkpoints(session, trusted={key.key_id: key.public})
    assert [(p.chain, "rewritten" in p.problem) for p in problems] == [(world.a.municipality_code, True)]


async def test_forged_checkpoint_signature_is_detected(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from service.audit.checkpoints import SigningKey, checkpoint_all, load_signing_key, verify_checkpoints
    from service.audit.models import AuditCheckpoint

    key = load_signing_key(settings)
    await driver.to_review()
    async with unit_of_work(sessionmaker) as session:
        await checkpoint_all(session, key=key)
        checkpoint = (await session.execute(select(AuditCheckpoint).limit(1))).scalar_one()
        checkpoint.head_hash = "f" * 64
    async with sessionmaker() as session:
        _, problems = await verify_checkpoints(session, trusted={key.key_id: key.public})
    assert [p.problem for p in problems] == ["checkpoint signature does not verify"]
    # A checkpoint made with some other key is not trusted at all.
    stranger = Ed25519PrivateKey.generate()
    async with sessionmaker() as session:
        _, problems = await verify_checkpoints(session, trusted={"other": stranger.public_key()})
    assert problems
    assert all("unknown key" in p.problem for p in problems)
    assert isinstance(key, SigningKey)
