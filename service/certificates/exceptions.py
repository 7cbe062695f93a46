"""Errors of certificate issuance: each a clear outcome for the terminal or the clerk, never a 500."""

from __future__ import annotations

from service.errors import Conflict, HubError, NotFound, PermissionDenied


class NotAKioskDevice(PermissionDenied):
    code = "not_a_post_office_device"
    title = "Only a device of a designated post office uses the certificate service"


class NotDesignated(PermissionDenied):
    code = "certificate_service_not_designated"
    title = "This office does not issue this municipality's certificates"


class RequestNotFound(NotFound):
    code = "certificate_request_not_found"
    title = "No such certificate request"


class ChallengeExpired(Conflict):
    code = "certificate_challenge_expired"
    title = "The card step took too long; start again"


class ChallengeUsed(Conflict):
    code = "certificate_challenge_used"
    title = "This request was already answered"


class MalformedProof(HubError):
    status_code = 400
    code = "malformed_card_proof"
    title = "The card proof is not readable"


class ChoiceRefused(Conflict):
    code = "certificate_choice_refused"
    title = "This choice is not offered"


class ReceiptNotFound(NotFound):
    code = "receipt_not_found"
    title = "No such receipt at this office"


class ReceiptExpired(Conflict):
    code = "receipt_expired"
    title = "This receipt has expired; the resident must request again"


class ReceiptClosed(Conflict):
    code = "receipt_closed"
    title = "This receipt is already closed"


class JobNotFound(NotFound):
    code = "certificate_job_not_found"
    title = "No such print job"


class InvalidJobTransition(Conflict):
    code = "invalid_job_transition"
    title = "Not allowed in the job's current state"


class BindingMismatch(Conflict):
    code = "binding_mismatch"
    title = "The document does not belong to this receipt"


class FeeMismatch(Conflict):
    code = "fee_mismatch"
    title = "The amount is not this job's fee"


class CertificateSystemUnavailable(HubError):
    status_code = 503
    code = "certificate_system_unavailable"
    title = "The municipality's certificate system cannot issue now"


class DocumentDestroyed(Conflict):
    code = "document_destroyed"
    title = "The document no longer exists at the hub"
