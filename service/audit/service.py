"""Appending to and verifying the audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal
from service.audit import repository
from service.audit.chain import GENESIS_HASH, SYSTEM_CHAIN, AuditFields, row_hash
from service.audit.models import AuditChainHead, AuditEvent
from service.kit import clock


async def record(
    session: AsyncSession,
    *,
    actor: Principal,
    action: str,
    municipality_code: str | None,
    case_id: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    reason_code: str | None = None,
) -> AuditEvent:
    """Append one event to the municipality's chain (or the system chain) in the caller's transaction."""
    chain = municipality_code or SYSTEM_CHAIN
    head = await repository.lock_head(session, chain)
    if head is None:
        head = AuditChainHead(chain=chain, seq=0, head_hash=GENESIS_HASH)
        session.add(head)
    fields = AuditFields(
        chain=chain,
        seq=head.seq + 1,
        occurred_at=clock.now(),
        action=action,
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        actor_role=actor.actor_label,
        device_id=actor.device_id,
        case_id=case_id,
        object_type=object_type,
        object_id=object_id,
        from_state=from_state,
        to_state=to_state,
        reason_code=reason_code,
    )
    digest = row_hash(fields, head.head_hash)
    event = AuditEvent(**fields.__dict__, prev_hash=head.head_hash, hash=digest)
    session.add(event)
    head.seq = fields.seq
    head.head_hash = digest
    await session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking one chain."""

    chain: str
    rows: int
    ok: bool
    first_broken_seq: int | None = None
    first_broken_id: int | None = None
    problem: str | None = None


def _fields(row: AuditEvent) -> AuditFields:
    return AuditFields(
        chain=row.chain,
        seq=row.seq,
        occurred_at=row.occurred_at,
        action=row.action,
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        actor_role=row.actor_role,
        device_id=row.device_id,
        case_id=row.case_id,
        object_type=row.object_type,
        object_id=row.object_id,
        from_state=row.from_state,
        to_state=row.to_state,
        reason_code=row.reason_code,
    )


async def verify_chain(session: AsyncSession, chain: str, head: AuditChainHead | None) -> ChainReport:
    """Walk a chain from genesis; name the first row whose link or content does not hold."""
    prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    async for row in repository.iter_chain(session, chain):
        count += 1
        if row.seq != expected_seq:
            return ChainReport(
                chain,
                count,
                False,
                expected_seq,
                row.id,
                f"row seq {expected_seq} is missing (next is {row.seq})",
            )
        if row.prev_hash != prev:
            return ChainReport(
                chain, count, False, row.seq, row.id, "prev_hash does not match the previous row"
            )
        if row_hash(_fields(row), prev) != row.hash:
            return ChainReport(chain, count, False, row.seq, row.id, "row content does not match its hash")
        prev = row.hash
        expected_seq += 1
    if head is None:
        if count:
            return ChainReport(chain, count, False, None, None, "chain head record is missing")
        return ChainReport(chain, 0, True)
    if head.seq != expected_seq - 1 or head.head_hash != prev:
        return ChainReport(
            chain,
            count,
            False,
            expected_seq,
            None,
            f"chain ends at seq {expected_seq - 1} but its head says {head.seq}",
        )
    return ChainReport(chain, count, True)


async def verify_all(session: AsyncSession) -> list[ChainReport]:
    """Verify every chain in the database."""
    heads = {h.chain: h for h in await repository.chains(session)}
    names = sorted(set(heads) | set(await repository.chain_names_with_events(session)))
    return [await verify_chain(session, name, heads.get(name)) for name in names]
