"""Rules of the live link's signaling: who belongs in a case's room, and the ticket that admits them."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Principal, PrincipalKind, Role
from service.cases import service as case_service
from service.config import Settings
from service.db import unit_of_work
from service.errors import HubError
from service.signaling.exceptions import CaseNotFound
from service.signaling.models import SignalingTicketUse
from service.signaling.participants import HubConfig
from service.signaling.schemas import SignalingTicketRead
from service.signaling.tickets import ParticipantRole, TicketClaims, issue_ticket, new_nonce
from service.signaling.turn import ice_servers_for
from service.wire.signaling import IceServer

SIGNALING_PATH = "/api/v1/signaling"


async def participant_role(session: AsyncSession, *, principal: Principal, case_id: str) -> ParticipantRole:
    """ "clerk" for a device of the case's post office, "officer" for the officer assigned; else 404."""
    case = await case_service.get_for(session, principal=principal, case_id=case_id)
    if principal.kind is PrincipalKind.device:
        return "clerk"  # get_for admitted it: a device of the case's own post office
    if (
        principal.kind is PrincipalKind.account
        and principal.role is Role.officer
        and case.officer_id == principal.id
    ):
        return "officer"
    # Same answer as a foreign case: a supervisor, another officer or a clerk's own login learns nothing.
    raise CaseNotFound()


def ice_servers(settings: Settings, principal_id: str) -> list[IceServer]:
    """The configured ICE servers for one principal, TURN credentials minted for it."""
    return ice_servers_for(
        settings.ice_servers,
        principal_id=principal_id,
        turn_secret=settings.turn_secret.get_secret_value(),
        ttl_s=settings.turn_ttl_seconds,
    )


def ws_url(settings: Settings) -> str:
    """The socket URL agents and consoles connect to (ws:// or wss:// on the hub's public origin)."""
    origin = settings.origin
    if origin.startswith("https://"):
        return "wss://" + origin.removeprefix("https://") + SIGNALING_PATH
    return "ws://" + origin.removeprefix("http://") + SIGNALING_PATH


async def issue_signaling_ticket(
    session: AsyncSession, *, principal: Principal, case_id: str, settings: Settings
) -> SignalingTicketRead:
    """A ticket for the case's room if `principal` is one of its two participants."""
    role = await participant_role(session, principal=principal, case_id=case_id)
    expires_at = int(time.time()) + settings.signaling_ticket_ttl_seconds
    claims = TicketClaims(
        room=case_id,
        role=role,
        principal_kind="device" if principal.kind is PrincipalKind.device else "account",
        principal_id=principal.id,
        municipality_code=principal.municipality_code,
        post_office_id=principal.post_office_id,
        expires_at=expires_at,
        nonce=new_nonce(),
    )
    return SignalingTicketRead(
        ticket=issue_ticket(settings.secret_key.get_secret_value().encode(), claims),
        ws_url=ws_url(settings),
        expires_at=dt.datetime.fromtimestamp(expires_at, dt.UTC),
        room=case_id,
        role=role,
        ice_servers=ice_servers(settings, principal.id),
        relay_only=settings.signaling_relay_only,
        public_origin=settings.origin,
    )


async def still_member(sessionmaker: async_sessionmaker[AsyncSession], claims: TicketClaims) -> bool:
    """Re-check at join, in its own short unit of work, that the ticket's principal still belongs in the room."""
    principal = Principal(
        kind=PrincipalKind.device if claims.principal_kind == "device" else PrincipalKind.account,
        id=claims.principal_id,
        role=Role.officer if claims.role == "officer" else None,
        municipality_code=claims.municipality_code,
        post_office_id=claims.post_office_id,
    )
    try:
        async with unit_of_work(sessionmaker) as session:
            role = await participant_role(session, principal=principal, case_id=claims.room)
    except HubError:
        return False  # e.g. the case was reassigned to another officer since the ticket was issued
    return role == claims.role


async def spend_ticket(sessionmaker: async_sessionmaker[AsyncSession], nonce: str, expires_at: int) -> bool:
    """Record a ticket's nonce as used by any replica; False when one already did (a replayed ticket)."""
    now = dt.datetime.now(dt.UTC)
    try:
        async with unit_of_work(sessionmaker) as session:
            # Tickets live 30 s: what has expired can no longer be replayed, so it need not be remembered.
            await session.execute(delete(SignalingTicketUse).where(SignalingTicketUse.expires_at < now))
            session.add(
                SignalingTicketUse(nonce=nonce, expires_at=dt.datetime.fromtimestamp(expires_at, dt.UTC))
            )
            await session.flush()
    except IntegrityError:
        return False
    return True


def hub_config(settings: Settings) -> HubConfig:
    """The signaling hub's limits from the settings."""
    return HubConfig(
        secret=settings.secret_key.get_secret_value().encode(),
        resume_grace_s=settings.signaling_resume_grace_seconds,
        heartbeat_s=settings.signaling_heartbeat_seconds,
        rate_per_s=settings.signaling_rate_per_second,
        rate_burst=settings.signaling_rate_burst,
        relay_only=settings.signaling_relay_only,
        public_origin=settings.origin,
    )
