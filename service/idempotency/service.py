"""Look up and store idempotent responses inside the request's transaction."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import BadRequest, Unprocessable
from service.idempotency.models import IdempotencyRecord
from service.kit import clock

_KEY = re.compile(r"^[A-Za-z0-9_\-:.]{8,200}$")


def check_key(key: str) -> str:
    """Validate an Idempotency-Key header value."""
    if not _KEY.match(key):
        raise BadRequest(
            "Idempotency-Key must be 8–200 characters of A–Z a–z 0–9 _ - : .", code_hint="idempotency_key"
        )
    return key


async def replay(
    session: AsyncSession, *, principal_id: str, key: str, method: str, path: str, request_hash: str
) -> IdempotencyRecord | None:
    """The stored response for this key, or None; the same key with another request is a 422."""
    record = await session.get(IdempotencyRecord, (principal_id, key))
    if record is None:
        return None
    if record.request_hash != request_hash or record.method != method or record.path != path:
        raise IdempotencyMismatch("this Idempotency-Key was used with a different request")
    return record


async def store(
    session: AsyncSession,
    *,
    principal_id: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    status_code: int,
    response: dict[str, Any],
) -> None:
    """Remember the response in the same transaction as the write it describes."""
    session.add(
        IdempotencyRecord(
            principal_id=principal_id,
            key=key,
            method=method,
            path=path,
            request_hash=request_hash,
            status_code=status_code,
            response=response,
            created_at=clock.now(),
        )
    )
    await session.flush()


class IdempotencyMismatch(Unprocessable):
    code = "idempotency_key_reused"
    title = "Idempotency-Key reused with a different request"
