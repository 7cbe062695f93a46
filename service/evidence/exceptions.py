"""Errors of the evidence domain."""

from __future__ import annotations

from service.errors import Conflict, NotFound, Unprocessable


class EvidenceNotFound(NotFound):
    code = "evidence_not_found"
    title = "Evidence not found"


class ChallengeNotFound(NotFound):
    code = "challenge_not_found"
    title = "No such card challenge for this case"


class ChallengeUsed(Conflict):
    code = "challenge_used"
    title = "This card challenge was already used"


class ChallengeExpired(Conflict):
    code = "challenge_expired"
    title = "This card challenge has expired; ask for a new one"


class EvidenceClosed(Conflict):
    code = "evidence_closed"
    title = "The case no longer takes evidence in its current state"


class MalformedProof(Unprocessable):
    code = "malformed_card_proof"
    title = "The card proof is not well formed"


class EvidencePurged(Conflict):
    code = "evidence_purged"
    title = "This evidence was deleted at the end of its retention period"


class EvidenceIntegrity(Conflict):
    code = "evidence_integrity_failed"
    title = "Stored evidence does not decrypt: it was altered or moved (reported to the audit trail)"


class CardFaceUnbound(Conflict):
    code = "card_face_unbound"
    title = "This card face was never shown to belong to the card that proved possession; it is not displayed"


class EvidenceUnreadable(Conflict):
    code = "evidence_unreadable"
    title = "Stored evidence holds an image the hub will not decode (too large or corrupt)"
