"""The rules of the card work at a post office, pure: who may ask, which certificates, issue or renewal.

docs/domain.md §A5 says why; the renewal window comes from the card generation's terms
(service/wire/cardwork.py `CARD_TERMS`), never from a constant here.
"""

from __future__ import annotations

import calendar
import datetime as dt

from service.cardwork.exceptions import (
    ProxyNotAllowed,
    RenewalNotOpen,
    SignRefusedAdultWard,
    SignRefusedUnder15,
    UnknownCardProfile,
)
from service.wire.cardwork import (
    CARD_TERMS,
    CertAction,
    CertificatePlan,
    CertificateTerms,
    CertKind,
    EcertPlanRequest,
    PinPlanRequest,
    Requester,
)


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` earlier, or the month's last day when it has none (31 May → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def terms_of(profile: str) -> CertificateTerms:
    """The card generation's terms; an unknown profile is refused, never guessed."""
    terms = CARD_TERMS.get(profile)
    if terms is None:
        raise UnknownCardProfile(f"card profile {profile!r}")
    return terms


def require_holder(requester: Requester, proxy_recorded: bool) -> None:
    """Only the holder in person, at a post office: a proxy named now or at the pre-check is refused."""
    if requester is not Requester.holder or proxy_recorded:
        raise ProxyNotAllowed()


def renewal_opens(not_after: dt.date | None, terms: CertificateTerms) -> dt.date | None:
    """The first day a renewal is possible for certificates expiring on `not_after`."""
    return months_before(not_after, terms.renewal_opens_months_before) if not_after else None


def plan_ecert(
    request: EcertPlanRequest, *, today: dt.date, proxy_recorded: bool = False
) -> tuple[list[CertificatePlan], dt.date | None]:
    """Issue or renew each asked certificate, in the card's order (署名用 first); a refusal raises, nothing planned.

    Checks in the order a clerk can act on them: who asks, who may hold a 署名用, then the dates.
    """
    require_holder(request.requester, proxy_recorded)
    terms = terms_of(request.profile)
    asked = [c for c in (CertKind.sign, CertKind.auth) if c in request.certificates]
    if CertKind.sign in asked:
        if request.under_15:
            raise SignRefusedUnder15()
        if request.adult_ward:
            raise SignRefusedAdultWard()
    not_after = request.current_not_after
    opens = renewal_opens(not_after, terms)
    plans: list[CertificatePlan] = []
    for kind in asked:
        if not_after is None:
            plans.append(CertificatePlan(certificate=kind, action=CertAction.issue, reason="no_certificate"))
        elif today > not_after:
            plans.append(CertificatePlan(certificate=kind, action=CertAction.issue, reason="expired"))
        elif kind is CertKind.sign and request.basic4_changed:
            # A change of name, address, birth date or sex revoked the 署名用 already: only a new issue helps.
            plans.append(CertificatePlan(certificate=kind, action=CertAction.issue, reason="basic4_changed"))
        elif opens is not None and today >= opens:
            plans.append(CertificatePlan(certificate=kind, action=CertAction.renew, reason="within_window"))
        else:
            raise RenewalNotOpen(f"renewal opens on {opens.isoformat() if opens else '-'}", opens=str(opens))
    return plans, opens


def check_pin(request: PinPlanRequest, *, proxy_recorded: bool = False) -> None:
    """A PIN change or reset at a post office: the holder in person only."""
    require_holder(request.requester, proxy_recorded)


def done_codes(plans: list[CertificatePlan]) -> list[str]:
    """The codes the counter may report as done for an e-certificate plan, e.g. `renew_sign`."""
    return [f"{p.action.value}_{p.certificate.value}" for p in plans]
