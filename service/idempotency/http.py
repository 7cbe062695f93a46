"""Idempotency-Key handling for every creating POST: replay the stored response, or run once and store it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal
from service.idempotency import service as idempotency
from service.kit.hashing import canonical_json, sha256_hex


async def respond(
    session: AsyncSession,
    *,
    request: Request,
    principal: Principal,
    key: str | None,
    body: BaseModel | None,
    status_code: int,
    run: Callable[[], Awaitable[dict[str, Any]]],
    redact: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    restore: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = None,
) -> JSONResponse:
    """Run `run` once per (caller, key, request); the same key and body replays the stored response.

    `redact` strips what must not rest in the idempotency table (a secret); `restore` puts it back on replay.
    """
    request_hash = sha256_hex(canonical_json(body.model_dump(mode="json") if body is not None else {}))
    if key is not None:
        idempotency.check_key(key)
        stored = await idempotency.replay(
            session,
            principal_id=principal.id,
            key=key,
            method=request.method,
            path=request.url.path,
            request_hash=request_hash,
        )
        if stored is not None:
            response = await restore(stored.response) if restore is not None else stored.response
            return JSONResponse(
                response, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
            )
    payload = await run()
    if key is not None:
        await idempotency.store(
            session,
            principal_id=principal.id,
            key=key,
            method=request.method,
            path=request.url.path,
            request_hash=request_hash,
            status_code=status_code,
            response=redact(payload) if redact is not None else payload,
        )
    return JSONResponse(payload, status_code=status_code)
