"""The Idempotency-Key header as a dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Same key and body → the same response; same key, other body → 422",
        max_length=200,
    ),
]
