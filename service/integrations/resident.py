"""Resident-record check adapter (住民基本台帳との照合) and its simulator.

The lookup compares what the officer read from the applicant's ID with the municipality's record and answers
match or mismatch per basic attribute (基本4情報). The hub keeps that answer only, never the record
(docs/domain.md §B4).
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


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


class ResidentStatus(StrEnum):
    """Where the resident's record stands (住民記録の状態)."""

    resident = "resident"
    moving_out = "moving_out"  # 転出予定: a 転出届 is in
    moved_out = "moved_out"  # 転出済み
    deceased = "deceased"


@dataclass(frozen=True)
class CertificateRecord:
    """What the municipality's systems hold about a card holder, as its certificate system prints it (synthetic).

    Found by the serial of the holder's JPKI 利用者証明用 certificate, as J-LIS's 交付センター maps a certificate to a
    resident; the hub passes the record to the certificate simulator and never stores it (docs/certificates.md §Issuance).
    """

    resident_id: str  # the simulator's own key, never a My Number
    municipality_code: str
    card_serial: str  # hex
    name: str
    name_kana: str
    birth_date: dt.date
    sex: str
    address: str
    household_id: str
    head_of_household: str
    relationship: str  # 続柄
    honseki: str | None  # None: no registered 本籍 here, so no 戸籍 certificates
    hittousha: str | None  # 筆頭者
    status: ResidentStatus
    support_measure: bool  # 支援措置 (DV等支援措置): the terminal must never say so
    card_issued_on: dt.date
    moved_in_on: dt.date
    household_moving_out: bool = False
    seal_registered: bool = True
    taxable_income_yen: int = 0

    def age_on(self, day: dt.date) -> int:
        """Full years on `day`."""
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - int(before_birthday)

    def to_json(self) -> dict[str, Any]:
        """A JSON object of the record (the simulator's file format)."""
        out: dict[str, Any] = dict(self.__dict__)
        for key in ("birth_date", "card_issued_on", "moved_in_on"):
            out[key] = out[key].isoformat()
        out["status"] = self.status.value
        return out

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> CertificateRecord:
        """The inverse of to_json."""
        values = dict(row)
        for key in ("birth_date", "card_issued_on", "moved_in_on"):
            values[key] = dt.date.fromisoformat(values[key])
        values["status"] = ResidentStatus(values["status"])
        return cls(**values)


@runtime_checkable
class CertificateRecordAdapter(Protocol):
    """The municipality's records as its certificate system reads them: the holder of a card, and the household."""

    async def resident_of(self, *, municipality_code: str, resident_id: str) -> CertificateRecord | None:
        """The resident an officer identified by the record's own key (a counter request without a card)."""
        ...

    async def holder_of(self, *, municipality_code: str, card_serial: str) -> CertificateRecord | None:
        """The resident whose card carries this authentication certificate, or None."""
        ...

    async def household_of(self, *, municipality_code: str, household_id: str) -> list[CertificateRecord]:
        """Every member of the household, head first."""
        ...


def _normalise(value: str) -> str:
    # Full-width and half-width forms and spacing differ between an ID card and the register, not the person.
    return "".join(unicodedata.normalize("NFKC", value).split()).casefold()


class ResidentRegistrySimulator:
    """A synthetic register keyed by (municipality, 申請書ID); loaded from a JSON file or filled by tests."""

    def __init__(
        self,
        records: dict[tuple[str, str], PresentedAttributes] | None = None,
        holders: list[CertificateRecord] | None = None,
    ) -> None:
        self._records = dict(records or {})
        self._holders: dict[tuple[str, str], CertificateRecord] = {}
        for holder in holders or []:
            self.add_holder(holder)

    @classmethod
    def from_file(cls, path: Path) -> ResidentRegistrySimulator:
        """Read `[{"municipality_code", "shinseisho_id", "name", "birth_date", "sex", "address"}, …]`; rows with a
        `card_serial` are card holders (CertificateRecord.to_json), so several hub processes share one register."""
        rows = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            {
                (r["municipality_code"], r["shinseisho_id"]): PresentedAttributes(
                    r["name"], r["birth_date"], r["sex"], r["address"]
                )
                for r in rows
                if "card_serial" not in r
            },
            [CertificateRecord.from_json(r) for r in rows if "card_serial" in r],
        )

    def add_holder(self, record: CertificateRecord) -> None:
        """Register a synthetic card holder."""
        self._holders[(record.municipality_code, record.card_serial.lower())] = record

    async def holder_of(self, *, municipality_code: str, card_serial: str) -> CertificateRecord | None:
        """The synthetic resident holding this card."""
        return self._holders.get((municipality_code, card_serial.lower()))

    async def resident_of(self, *, municipality_code: str, resident_id: str) -> CertificateRecord | None:
        """The synthetic resident the officer identified at a counter request (their own key, never a My Number)."""
        return next(
            (
                r
                for (code, _), r in self._holders.items()
                if code == municipality_code and r.resident_id == resident_id
            ),
            None,
        )

    async def household_of(self, *, municipality_code: str, household_id: str) -> list[CertificateRecord]:
        """Members of the synthetic household, head first."""
        members = [
            r
            for (code, _), r in self._holders.items()
            if code == municipality_code and r.household_id == household_id
        ]
        return sorted(members, key=lambda r: (r.relationship != "世帯主", r.resident_id))

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
