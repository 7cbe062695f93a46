"""The eligibility pre-check for the post-office channel (docs/domain.md §A2.11, §B3, §B7); pure rules."""

from __future__ import annotations

from pydantic import BaseModel

from service.tenancy.codes import Procedure
from service.wire.cases import MAILED_PROCEDURES


class EligibilityAnswers(BaseModel):
    """Answers the clerk records with the applicant before asking for verification."""

    applicant_present: bool
    resident_of_municipality: bool
    proxy_applicant: bool  # 任意代理人: never possible at the post office
    minor_or_adult_ward: bool
    legal_representative_present: bool = False  # 法定代理人
    moving_or_name_change_before_delivery: bool = False
    mail_forwarding_registered: bool = False  # 転送届
    special_handling_required: bool = False  # e.g. DV等支援措置 — handled at the town hall


def ineligibility_reasons(answers: EligibilityAnswers, procedure: Procedure) -> list[str]:
    """Reason codes why the case cannot go on at the post office; empty when eligible."""
    reasons: list[str] = []
    if not answers.applicant_present:
        reasons.append("applicant_absent")
    if answers.proxy_applicant:
        reasons.append("proxy_not_allowed")
    if answers.minor_or_adult_ward and not answers.legal_representative_present:
        reasons.append("legal_representative_absent")
    if not answers.resident_of_municipality:
        reasons.append("not_resident")
    if answers.special_handling_required:
        reasons.append("special_handling")
    if procedure in MAILED_PROCEDURES:
        # The card is mailed by 本人限定受取郵便 (転送不要): a move, a name change or mail forwarding defeats delivery.
        if answers.moving_or_name_change_before_delivery:
            reasons.append("moving_before_delivery")
        if answers.mail_forwarding_registered:
            reasons.append("mail_forwarding_registered")
    return reasons
