"""Errors of the cases domain."""

from __future__ import annotations

from service.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, Unprocessable


class CaseNotFound(NotFound):
    code = "case_not_found"
    title = "Case not found"


class ShinseishoIdInUse(Conflict):
    code = "shinseisho_id_in_use"
    title = "This 申請書ID already belongs to an active case"


class VersionConflict(Conflict):
    code = "version_conflict"
    title = "The case changed since you read it; reload and try again"


class WrongState(InvalidTransition):
    code = "invalid_transition"


class NotAllowedForActor(PermissionDenied):
    code = "action_not_allowed_for_role"
    title = "Your role may not take this action"


class NotAssigned(PermissionDenied):
    code = "not_assigned"
    title = "Only the officer assigned to this case may do this"


class ProcedureMismatch(Conflict):
    code = "procedure_mismatch"
    title = "This action does not apply to the case's procedure"


class ReasonRequired(Unprocessable):
    code = "reason_code_invalid"
    title = "A valid reason code is required"


class AttestationRequired(Unprocessable):
    code = "attestation_required"
    title = "The decision needs the officer's explicit attestation"


class NotEligible(Conflict):
    code = "not_eligible"
    title = "The eligibility pre-check did not pass"


class ConsentsMissing(Conflict):
    code = "consents_missing"
    title = "The applicant's consents (current versions) must be recorded before verification is requested"


class InvalidCase(Unprocessable):
    code = "invalid_case"
    title = "The case data is invalid"


class BoothOnly(Conflict):
    code = "booth_only"
    title = "Only a booth case is reviewed in person, through the booth's sync (docs/booths.md)"


class OfferRequired(Conflict):
    code = "offer_required"
    title = "Cases are taken from the queue's offer (random assignment), not picked"


class PinRequestRequired(Conflict):
    code = "pin_request_required"
    title = "Finalize with POST /api/v1/cases/{id}/pin-request (the sealed PINs or 顔認証)"
