"""Card-swap guard material: what identifies the physical card read for a case (issue 3, item 5).

The hub stores a `CardBinding` at the first verified read of a case and compares every later read with it; any
changed field voids the case's card evidence. Storage and the notification to clerk and officer are the hub's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields

from service.cardproof.verify import ProofResult


class BindingUnavailable(ValueError):
    """The proof did not establish the certificate or card face that a binding needs."""


@dataclass(frozen=True)
class CardBinding:
    """ATR, authentication-certificate serial and card-face hash of one card, all as hex strings."""

    atr_sha256: str
    certificate_serial: str
    card_face_sha256: str | None

    def changes(self, current: CardBinding) -> tuple[str, ...]:
        """Names of the fields that differ in `current` (empty: the same card)."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) != getattr(current, f.name))


def binding_for(result: ProofResult, atr: bytes) -> CardBinding:
    """The binding of a verified proof; the ATR is the one the agent reported for this read."""
    if not result.ok or result.certificate_serial is None:
        raise BindingUnavailable(f"no binding from a failed proof: {', '.join(result.reasons)}")
    return CardBinding(
        atr_sha256=hashlib.sha256(atr).hexdigest(),
        certificate_serial=format(result.certificate_serial, "x"),
        card_face_sha256=result.card_face.sha256 if result.card_face is not None else None,
    )
