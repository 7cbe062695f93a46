"""Resident-record check adapter (住民基本台帳との照合) and its simulator.

The lookup compares what the officer read from the applicant's ID with the municipality's record and answers
match or mismatch per basic attribute (基本4情報). The hub keeps that answer only, never the record
(docs/domain.md §B4).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol


class ResidentAttribute(StrEnum):
    name = "name"  # 氏名
    birth_date = "birth_date"  # 生年月日
    sex = "sex"  # 性別
    address = "address"  # 住所


class MatchResult(StrEnum):
    match = "match"
    mismatch = "mismatch"


@dataclass(frozen=True)
class PresentedAttributes:
    """What the applicant's ID says, as typed or read by the officer; used for the comparison and dropped."""

    name: str
    birth_date: str
    sex: str
    address: str


class ResidentCheckError(Exception):
    """The resident-record system could not answer."""


class ResidentRecordAdapter(Protocol):
    """The municipality's 住基 system as the hub sees it."""

    async def check(
        self, *, municipality_code: str, shinseisho_id: str, presented: PresentedAttributes
    ) -> dict[ResidentAttribute, MatchResult] | None:
        """Match or mismatch per attribute, or None when no record belongs to this application."""
        ...


def _normalise(value: str) -> str:
    # Full-width and half-width forms and spacing differ between an ID card and the register, not the person.
    return "".join(unicodedata.normalize("NFKC", value).split()).casefold()


class ResidentRegistrySimulator:
    """A synthetic register keyed by (municipality, 申請書ID); loaded from a JSON file or filled by tests."""

    def __init__(self, records: dict[tuple[str, str], PresentedAttributes] | None = None) -> None:
        self._records = dict(records or {})

    @classmethod
    def from_file(cls, path: Path) -> ResidentRegistrySimulator:
        """Read `[{"municipality_code", "shinseisho_id", "name", "birth_date", "sex", "address"}, …]`."""
        rows = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            {
                (r["municipality_code"], r["shinseisho_id"]): PresentedAttributes(
                    r["name"], r["birth_date"], r["sex"], r["address"]
                )
                for r in rows
            }
        )

    def add(self, *, municipality_code: str, shinseisho_id: str, record: PresentedAttributes) -> None:
        """Register a synthetic resident."""
        self._records[(municipality_code, shinseisho_id)] = record

    async def check(
        self, *, municipality_code: str, shinseisho_id: str, presented: PresentedAttributes
    ) -> dict[ResidentAttribute, MatchResult] | None:
        """Compare attribute by attribute."""
        record = self._records.get((municipality_code, shinseisho_id))
        if record is None:
            return None
        return {
            attr: MatchResult.match
            if _normalise(getattr(record, attr.value)) == _normalise(getattr(presented, attr.value))
            else MatchResult.mismatch
            for attr in ResidentAttribute
        }
