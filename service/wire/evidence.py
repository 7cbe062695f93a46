"""Evidence kinds and legal-hold reasons, shared by the hub and both browser UIs (docs/architecture.md §3).

Codes and their ja/en labels only; what each kind holds and how long it is kept is the hub's
(service/evidence/retention.py, docs/domain.md §B7).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class StillKind(StrEnum):
    """Stills the counter uploads from its document camera."""

    document_front = "document_front"  # 本人確認書類（表面）
    document_back = "document_back"  # 本人確認書類（裏面; never the My Number side of a card）
    document_tilt = "document_tilt"  # ホログラム確認用の傾き
    application_photo = "application_photo"  # 申請用顔写真


class EvidenceKind(StrEnum):
    """Every kind of evidence item a case can hold."""

    card_face = "card_face"  # 券面事項 read from the card's chip
    card_proof = "card_proof"  # the hub's verification of the card's signatures
    document_front = StillKind.document_front.value
    document_back = StillKind.document_back.value
    document_tilt = StillKind.document_tilt.value
    application_photo = StillKind.application_photo.value
    officer_note = "officer_note"
    pin_request = "pin_request"  # 暗証番号設定依頼, sealed at the counter
    chip_document = "chip_document"  # an ID document's chip, verified by the hub (service/wire/idchips.py)


# The document stills' kinds (front, back, tilted) are kept as one artefact type, "document_still".
DOCUMENT_STILL_KINDS: Final = frozenset(
    {StillKind.document_front, StillKind.document_back, StillKind.document_tilt}
)

# Why a case's evidence is on legal hold, in the order the supervisor's form offers them: (Japanese, English).
HOLD_REASON_LABELS: Final[dict[str, tuple[str, str]]] = {
    "suspected_impersonation": ("なりすましの疑い", "Suspected impersonation"),
    "coercion": ("強要の疑い", "Suspected coercion"),
    "investigation": ("調査のため", "Investigation"),
    "complaint": ("苦情対応のため", "Complaint"),
}
HOLD_REASONS: Final = frozenset(HOLD_REASON_LABELS)
# What the officer on the case may flag from the live check (docs/domain.md §B7): the hold starts at once, and
# the case appears among the supervisor's flagged cases.
OFFICER_FLAGS: Final = ("suspected_impersonation", "coercion")
# Rejection reasons that put the case's evidence on hold with the decision (the evidence may be needed by police).
HOLD_ON_DECISION: Final = frozenset({"suspected_impersonation"})
