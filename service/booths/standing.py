"""The resident-record re-check a booth case waits for before J-LIS (docs/booths.md §Recheck).

Between the booth and the sync days may pass: the hub asks the residence municipality's record again whether the
applicant has since filed a move (転出予定) or has mail forwarding (転送届) — either would send the card by mail to
an address it must not go to. The answer is two flags; the hub keeps them as a hold reason and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Standing:
    """What the re-check learned: no record, a planned move, mail forwarding (all False: clear)."""

    found: bool = True
    planned_move: bool = False
    mail_forwarding: bool = False

    @property
    def hold_reason(self) -> str | None:
        """The hold this standing puts on the case, or None when the case may go to J-LIS."""
        if not self.found:
            return "record_not_found"
        if self.planned_move:
            return "planned_move"
        if self.mail_forwarding:
            return "mail_forwarding"
        return None


class StandingError(Exception):
    """The resident-record system could not answer now (retried later)."""


class StandingAdapter(Protocol):
    """The residence municipality's 住基 system, asked by 申請書ID."""

    async def standing(self, *, municipality_code: str, shinseisho_id: str) -> Standing:
        """The applicant's current standing."""
        ...


@dataclass
class StandingSimulator:
    """Synthetic records: everyone is a resident in place unless listed (development and tests)."""

    moving: set[str] = field(default_factory=set)
    forwarding: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    down: bool = False

    async def standing(self, *, municipality_code: str, shinseisho_id: str) -> Standing:  # noqa: ARG002
        if self.down:
            raise StandingError("resident-record system unavailable (simulated)")
        return Standing(
            found=shinseisho_id not in self.unknown,
            planned_move=shinseisho_id in self.moving,
            mail_forwarding=shinseisho_id in self.forwarding,
        )
