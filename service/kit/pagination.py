"""Opaque cursor pagination over (created_at, id)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from service.kit.bounds import within_years

T = TypeVar("T")


class InvalidCursor(ValueError):
    """The cursor was not issued by this hub."""


@dataclass(frozen=True)
class Cursor:
    created_at: dt.datetime
    id: str

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), self.id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            created_at, ident = json.loads(raw)
            when = dt.datetime.fromisoformat(created_at)
            if when.tzinfo is None or not isinstance(ident, str) or len(ident) > 64:
                raise ValueError("bad cursor")
            # A crafted cursor may name year 1 or 9999: moved to UTC for the database, it overflows.
            within_years(when)
            return cls(when, ident)
        except (ValueError, TypeError) as exc:
            raise InvalidCursor("invalid cursor") from exc


class Page(BaseModel, Generic[T]):
    """One page of results and the cursor of the next, if any."""

    items: list[T]
    next_cursor: str | None = None
