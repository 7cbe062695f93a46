"""Accounts of people: creation, and activation by a second person for roles that see evidence."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import notices, repository
from service.accounts.exceptions import AccountNotFound, AccountNotPending, UsernameTaken
from service.accounts.models import Account
from service.accounts.passwords import hash_password
from service.accounts.roles import MUNICIPAL_ROLES, MUNICIPALITY_ROLES, Principal, PrincipalKind, Role
from service.audit import service as audit
from service.errors import PermissionDenied, Unprocessable
from service.kit import clock
from service.kit.ids import random_id
from service.tenancy import service as tenancy_service


def principal_of_account(account: Account) -> Principal:
    """The principal a logged-in account acts as."""
    return Principal(
        kind=PrincipalKind.account,
        id=account.id,
        role=Role(account.role),
        municipality_code=account.municipality_code,
        post_office_id=account.post_office_id,
    )


# Roles that see case evidence or a municipality's audit trail (evidence.service.require_evidence_reader, audit).
EVIDENCE_ROLES = MUNICIPAL_ROLES
# Who may activate such an account: a second person of its municipality who oversees it.
ACTIVATOR_ROLES = frozenset({Role.supervisor, Role.auditor})


def needs_second_person(actor: Principal, role: Role) -> bool:
    """Whether an account made by `actor` waits for activation: an admin's officer, supervisor or auditor does.

    The operator's CLI on the hub's own server (`hub account create`, the demo, SYSTEM) is trusted: whoever runs it
    holds the database credentials and could write the row directly, so its accounts start active. That is how
    the first supervisor of a municipality is made.
    """
    return actor.kind is PrincipalKind.account and role in EVIDENCE_ROLES


async def create_account(
    session: AsyncSession,
    *,
    actor: Principal,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    municipality_code: str | None,
    post_office_id: str | None,
) -> Account:
    """Create a person's account; the role decides which tenant it must be bound to (see needs_second_person)."""
    if role is Role.clerk:
        if post_office_id is None or municipality_code is not None:
            raise Unprocessable(
                "a clerk belongs to exactly one post office (post_office_id, no municipality_code)"
            )
        await tenancy_service.get_post_office(session, post_office_id)
    elif role in MUNICIPALITY_ROLES:
        if municipality_code is None or post_office_id is not None:
            raise Unprocessable(
                f"a {role.value} belongs to exactly one municipality (municipality_code only)"
            )
        await tenancy_service.get_municipality(session, municipality_code)
    elif municipality_code is not None or post_office_id is not None:
        raise Unprocessable(f"{role.value} accounts are not bound to a tenant")
    if await repository.account_by_username(session, username) is not None:
        raise UsernameTaken()
    account = Account(
        id=random_id("acct"),
        username=username,
        display_name=display_name,
        role=role.value,
        municipality_code=municipality_code,
        post_office_id=post_office_id,
        password_hash=hash_password(password),
        totp_confirmed=False,
        failed_logins=0,
        disabled=False,
        pending_activation=needs_second_person(actor, role),
        created_by=actor.id,
        created_at=clock.now(),
    )
    session.add(account)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="account.created",
        municipality_code=municipality_code,
        object_type="account",
        object_id=account.id,
        reason_code=f"{role.value}_pending" if account.pending_activation else role.value,
    )
    return account


def _require_activator(actor: Principal) -> None:
    if actor.kind is not PrincipalKind.account or actor.role not in ACTIVATOR_ROLES:
        raise PermissionDenied("only a supervisor or auditor of the municipality activates accounts")


async def pending_accounts(session: AsyncSession, *, actor: Principal) -> list[Account]:
    """Accounts of the activator's municipality that wait for a second person."""
    _require_activator(actor)
    if actor.municipality_code is None:
        return []
    return list(await repository.pending_accounts(session, actor.municipality_code))


async def activate_account(session: AsyncSession, *, actor: Principal, account_id: str) -> Account:
    """A second person (supervisor or auditor of the same municipality, not the creator) activates an account."""
    _require_activator(actor)
    account = await session.get(Account, account_id)
    # Another municipality's account is "not found", as for every foreign tenant's object.
    if account is None or account.municipality_code != actor.municipality_code:
        raise AccountNotFound()
    if actor.id in (account.created_by, account.id):
        raise PermissionDenied("the account's creator cannot also activate it")
    if not account.pending_activation:
        raise AccountNotPending()
    account.pending_activation = False
    account.activated_by = actor.id
    account.activated_at = clock.now()
    await audit.record(
        session,
        actor=actor,
        action="account.activated",
        municipality_code=account.municipality_code,
        object_type="account",
        object_id=account.id,
        reason_code=account.role,
    )
    await notices.add(session, account_id=account.id, kind=notices.ACCOUNT_ACTIVATED)
    return account
