"""The municipality's refusals, decided at the hub from the resident record (plain objects, no I/O).

The terminal is told only the neutral wording of service/wire/certificates.py REFUSAL_WORDING; the code itself stays
in the job for the municipality (docs/certificates.md §Refusals).
"""

from __future__ import annotations

import datetime as dt

from service.certificates.config import CertificateSettings
from service.integrations.resident import CertificateRecord, ResidentStatus
from service.wire.certificates import KOSEKI_KINDS, CertificateKind, CertificateOption, RefusalCode, Scope


def choice_refusal(
    settings: CertificateSettings,
    *,
    kind: CertificateKind,
    scope: Scope | None,
    options: list[CertificateOption],
    count: int,
) -> RefusalCode | None:
    """Whether the terminal may ask for this at all (before the card step)."""
    offered = settings.kind(kind)
    if offered is None or count > offered.max_count:
        return RefusalCode.kind_not_offered
    if (scope is None) != (not offered.scopes) or (scope is not None and scope not in offered.scopes):
        return RefusalCode.option_not_offered
    if not set(options) <= set(settings.selectable_options(offered)):
        return RefusalCode.option_not_offered
    return None


def record_refusal(
    settings: CertificateSettings,
    record: CertificateRecord | None,
    *,
    kind: CertificateKind,
    scope: Scope | None,
    household: list[CertificateRecord],
    today: dt.date,
    by_card: bool = True,
) -> RefusalCode | None:
    """The municipality's refusals for this holder on `today` (local date), in the order the sources give them.

    `by_card=False` for a counter request, where no card is used and the card's issue date does not matter."""
    if record is None:
        return RefusalCode.not_resident
    if record.status is ResidentStatus.deceased:
        return RefusalCode.deceased
    if record.status is ResidentStatus.moved_out:
        return RefusalCode.moved_out
    # A household with a pending 転出 gets no 住民票, whoever of it asks.
    pending = record.status is ResidentStatus.moving_out or record.household_moving_out
    if pending or (
        scope is Scope.household and any(m.status is not ResidentStatus.resident for m in household)
    ):
        return RefusalCode.moving_out
    if record.support_measure or (scope is Scope.household and any(m.support_measure for m in household)):
        return RefusalCode.support_measure
    if settings.minimum_age is not None and record.age_on(today) < settings.minimum_age:
        return RefusalCode.under_age
    # Usable from the day after the card (or its e-certificate) was issued.
    if by_card and record.card_issued_on >= today:
        return RefusalCode.card_issued_today
    if kind in KOSEKI_KINDS and record.honseki is None:
        return RefusalCode.no_registered_honseki
    return None
