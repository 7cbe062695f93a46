"""Errors of the card work at the counter; each has its own stable code the counter words for the clerk."""

from __future__ import annotations

from service.errors import Conflict, Unprocessable


class ProxyNotAllowed(Conflict):
    code = "card_work_proxy_not_allowed"
    title = "A post office does this only for the holder in person; a proxy must go to the municipality"


class CardWorkWrongCase(Conflict):
    code = "card_work_wrong_case"
    title = (
        "This card work does not apply to the case's procedure or state (it follows the officer's approval)"
    )


class SignRefusedUnder15(Unprocessable):
    code = "ecert_sign_under_15"
    title = "No 署名用電子証明書 for a holder under 15; ask for the 利用者証明用 only"


class SignRefusedAdultWard(Unprocessable):
    code = "ecert_sign_adult_ward"
    title = "No 署名用電子証明書 for an adult ward (成年被後見人); ask for the 利用者証明用 only"


class RenewalNotOpen(Conflict):
    code = "ecert_renewal_not_open"
    title = "The certificates are valid and renewal is not open yet"


class UnknownCardProfile(Unprocessable):
    code = "ecert_unknown_profile"
    title = "The card generation is not known to the hub"


class InvalidDoneCode(Unprocessable):
    code = "card_work_invalid_done"
    title = "What was done must be named by codes that match the case's plan"
