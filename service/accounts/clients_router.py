"""Endpoints of integration clients (admin): registration, listing, API key rotation."""

from __future__ import annotations

from fastapi import APIRouter

from service.accounts import repository
from service.accounts import service as accounts_service
from service.accounts.deps import AdminPrincipal
from service.accounts.exceptions import ClientNotFound
from service.accounts.schemas import (
    ApiKeyIssued,
    ApiKeyRotate,
    IntegrationClientCreate,
    IntegrationClientRead,
)
from service.db import DBSession
from service.errors import PermissionDenied, Unauthenticated, problem_responses
from service.tenancy.exceptions import MunicipalityNotFound

clients_router = APIRouter(prefix="/api/v1/integration-clients", tags=["integration"])


@clients_router.post(
    "",
    response_model=ApiKeyIssued,
    status_code=201,
    responses=problem_responses(Unauthenticated, PermissionDenied, MunicipalityNotFound),
)
async def create_client(
    body: IntegrationClientCreate, session: DBSession, admin: AdminPrincipal
) -> ApiKeyIssued:
    """Register a municipality's back-office client and issue its first API key (shown once)."""
    client, key, text = await accounts_service.create_client(
        session,
        actor=admin,
        municipality_code=body.municipality_code,
        name=body.name,
        scopes=body.scopes,
        key_ttl_days=body.key_ttl_days,
    )
    return ApiKeyIssued(
        client=IntegrationClientRead.model_validate(client),
        key_id=key.id,
        api_key=text,
        expires_at=key.expires_at,
    )


@clients_router.get(
    "",
    response_model=list[IntegrationClientRead],
    responses=problem_responses(Unauthenticated, PermissionDenied),
)
async def list_clients(session: DBSession, _admin: AdminPrincipal) -> list[IntegrationClientRead]:
    """Every integration client (admin)."""
    return [IntegrationClientRead.model_validate(c) for c in await repository.list_clients(session)]


@clients_router.post(
    "/{client_id}/keys",
    response_model=ApiKeyIssued,
    status_code=201,
    responses=problem_responses(Unauthenticated, PermissionDenied, ClientNotFound),
)
async def rotate_key(
    client_id: str, body: ApiKeyRotate, session: DBSession, admin: AdminPrincipal
) -> ApiKeyIssued:
    """Issue a new API key; older keys expire after the grace period (admin)."""
    client, key, text = await accounts_service.rotate_key(
        session,
        actor=admin,
        client_id=client_id,
        key_ttl_days=body.key_ttl_days,
        grace_seconds=body.grace_seconds,
    )
    return ApiKeyIssued(
        client=IntegrationClientRead.model_validate(client),
        key_id=key.id,
        api_key=text,
        expires_at=key.expires_at,
    )
