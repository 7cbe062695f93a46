"""The verifier registry: one function per chip document kind, from the raw objects to named checks and fields.

A verifier takes the objects the counter read (name -> raw bytes), the trust anchors and the time of the check, and
returns a `ChipVerification`. It never raises for a bad document: every failure is a named check with a reason
code from `ChipRefusal` (docs/id-documents.md §Framework). A module registers its verifier with `@register(kind)`;
the package's `__init__` imports every such module so that the registry is full whenever it is used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from service.idchips.anchors import ChipAnchors
from service.wire.idchips import ChipKind, ChipRefusal, ChipVerdict


@dataclass(frozen=True)
class ChipCheckResult:
    """One named check: passed, or failed with the refusal it stands for."""

    name: str
    ok: bool
    reason_code: ChipRefusal | None = None
    detail: str | None = None  # technical detail for logs and the evidence summary; never personal data


@dataclass(frozen=True)
class ChipFields:
    """What the officer needs from the chip. `document_number` is clear here and never stored as such."""

    name: str | None = None
    birth_date: dt.date | None = None
    address: str | None = None
    valid_until: dt.date | None = None
    document_number: str | None = None
    nationality: str | None = None


@dataclass
class ChipVerification:
    """A verifier's result: its checks in order, the holder's fields and the chip photo (if any)."""

    kind: ChipKind
    checks: list[ChipCheckResult] = field(default_factory=list)
    fields: ChipFields = field(default_factory=ChipFields)
    photo: bytes | None = None
    photo_content_type: str | None = None  # image/jpeg, image/jp2
    card_face: bytes | None = None  # a signed image of the card's face (在留カード: 券面(表)イメージ, TIFF)

    def passed(self, name: str, detail: str | None = None) -> None:
        """Record a passed check."""
        self.checks.append(ChipCheckResult(name, True, None, detail))

    def failed(self, name: str, reason: ChipRefusal, detail: str | None = None) -> None:
        """Record a failed check with its refusal."""
        self.checks.append(ChipCheckResult(name, False, reason, detail))

    @property
    def ok(self) -> bool:
        """Verified only with at least one check and every check passed."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def refusal(self) -> ChipRefusal | None:
        """The first failed check's reason: the one the officer is told."""
        return next((c.reason_code for c in self.checks if not c.ok), None)

    @property
    def verdict(self) -> ChipVerdict:
        return ChipVerdict.verified if self.ok else ChipVerdict.refused


Verifier = Callable[[Mapping[str, bytes], ChipAnchors, dt.datetime], ChipVerification]

VERIFIERS: dict[ChipKind, Verifier] = {}


def register(kind: ChipKind) -> Callable[[Verifier], Verifier]:
    """Decorator: make `verifier` the one for `kind`."""

    def add(verifier: Verifier) -> Verifier:
        VERIFIERS[kind] = verifier
        return verifier

    return add
