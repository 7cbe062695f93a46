"""The card work done at the counter after the officer's decision (docs/card-procedures.md): e-certificate issue or
renewal (電子証明書の発行・更新) and a PIN change or reset (暗証番号の変更・初期化).

Shared by the hub (which applies the rules, service/cardwork/rules.py) and the agent (which asks for a plan, then
does the work on the card). No PIN ever travels in these models: the PIN rules are here so both sides show and
check the same ones, but the new PIN itself stays at the counter. No hub imports.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from service.wire.card_profiles import CURRENT, PROFILES
from service.wire.pin_seal import FOUR_DIGITS, SIGN_PASSWORD


class CertKind(StrEnum):
    """The two e-certificates on the card."""

    sign = "sign"  # 署名用電子証明書
    auth = "auth"  # 利用者証明用電子証明書


class PinWhich(StrEnum):
    """The card's four PINs (docs/domain.md §A2.19)."""

    auth = "auth"  # 利用者証明用電子証明書の暗証番号, 4 digits
    sign = "sign"  # 署名用電子証明書のパスワード, 6–16 characters
    juki = "juki"  # 住民基本台帳用の暗証番号, 4 digits
    kenhojo = "kenhojo"  # 券面事項入力補助用の暗証番号, 4 digits


class PinMode(StrEnum):
    """A change (the applicant knows the current PIN) or a reset (初期化: forgotten or locked)."""

    change = "change"
    reset = "reset"


class Requester(StrEnum):
    """Who asks at the counter. Only the holder in person may, at a post office (docs/domain.md §A5)."""

    holder = "holder"
    proxy = "proxy"  # 任意代理人
    legal_representative = "legal_representative"  # 法定代理人 asking in the holder's place


class CertAction(StrEnum):
    """What the plan does for one certificate."""

    issue = "issue"
    renew = "renew"


@dataclass(frozen=True)
class CertificateTerms:
    """How long a card generation's e-certificates last and when renewal opens: one value per card profile.

    The current card: renewal from three months before expiry, after expiry a new issue
    (docs/domain.md §A2.18); the next-generation card is expected to open renewal a year ahead.
    """

    profile: str
    renewal_opens_months_before: int
    validity_years: int


# The window and validity of each card generation, from its profile (service/wire/card_profiles.py, the one place
# they live); keyed by the generation the agent read (EcertPlanRequest.profile).
CARD_TERMS: Final = {
    generation.value: CertificateTerms(
        profile=generation.value,
        renewal_opens_months_before=card.renewal_window_months,
        validity_years=card.certificate_validity_years,
    )
    for generation, card in PROFILES.items()
}
CURRENT_CARD_TERMS: Final = CARD_TERMS[CURRENT.generation.value]
# 署名用 is refused below this age (docs/domain.md §A2.18).
SIGN_MIN_AGE: Final = 15


@dataclass(frozen=True)
class PinRule:
    """One PIN's format: the pattern both sides check, its length bounds and the words shown beside the entry."""

    which: PinWhich
    label: tuple[str, str]
    rule: tuple[str, str]
    pattern: re.Pattern[str]
    min_length: int
    max_length: int
    letters: bool
    tries: int


PIN_RULES: Final = {
    PinWhich.auth: PinRule(
        PinWhich.auth,
        ("利用者証明用電子証明書の暗証番号", "User authentication PIN"),
        ("数字4桁", "4 digits"),
        FOUR_DIGITS,
        4,
        4,
        False,
        3,
    ),
    PinWhich.sign: PinRule(
        PinWhich.sign,
        ("署名用電子証明書のパスワード", "Signing certificate password"),
        ("英大文字（A〜Z）と数字を両方含む6〜16文字", "6–16 capital letters (A–Z) and digits, with both"),
        SIGN_PASSWORD,
        6,
        16,
        True,
        5,
    ),
    PinWhich.juki: PinRule(
        PinWhich.juki,
        ("住民基本台帳用の暗証番号", "Resident registry PIN"),
        ("数字4桁", "4 digits"),
        FOUR_DIGITS,
        4,
        4,
        False,
        3,
    ),
    PinWhich.kenhojo: PinRule(
        PinWhich.kenhojo,
        ("券面事項入力補助用の暗証番号", "Card-face input support PIN"),
        ("数字4桁", "4 digits"),
        FOUR_DIGITS,
        4,
        4,
        False,
        3,
    ),
}


class EcertPlanRequest(BaseModel):
    """What the clerk records and the card shows, for an e-certificate issue or renewal."""

    model_config = ConfigDict(extra="forbid")

    certificates: list[CertKind] = Field(min_length=1, max_length=2, description="署名用 and/or 利用者証明用")
    requester: Requester = Field(description="Only the holder in person, at a post office")
    under_15: bool = Field(description="The holder is under 15 (署名用 is refused)")
    adult_ward: bool = Field(description="The holder is an adult ward, 成年被後見人 (署名用 is refused)")
    basic4_changed: bool = Field(
        description="Name, address, birth date or sex changed since the certificates were issued (署名用 revoked)"
    )
    current_not_after: dt.date | None = Field(
        default=None,
        description="Expiry of the certificates on the card (read from the 利用者証明用); null if none",
    )
    profile: str = Field(
        default=CURRENT_CARD_TERMS.profile,
        description="The card generation read (gen2016 the current card, gen2028 the next one)",
    )


class CertificatePlan(BaseModel):
    """One certificate's part of the plan: issue or renew, and why."""

    certificate: CertKind
    action: CertAction
    reason: str = Field(description="no_certificate | expired | basic4_changed | within_window")


class EcertPlan(BaseModel):
    """The hub's answer: what to do for each asked certificate. Refusals are problems, never a partial plan."""

    case_id: str
    certificates: list[CertificatePlan]
    renewal_opens: dt.date | None = Field(
        description="When renewal opened (or opens) for the current certificates"
    )


class PinPlanRequest(BaseModel):
    """Which PIN, and whether it is changed (current PIN known) or reset (初期化)."""

    model_config = ConfigDict(extra="forbid")

    pin: PinWhich
    mode: PinMode
    requester: Requester


class PinPlan(BaseModel):
    """The hub's answer for a PIN: what the counter may do. The PIN itself never reaches the hub."""

    case_id: str
    pin: PinWhich
    mode: PinMode


class CardWorkDone(BaseModel):
    """What was done on the card, in codes only (e.g. `renew_sign`, `change_auth`): for the record and the audit."""

    model_config = ConfigDict(extra="forbid")

    done: list[str] = Field(min_length=1, max_length=8)


DONE_CODE: Final = re.compile(r"^(issue|renew)_(sign|auth)$|^(change|reset)_(auth|sign|juki|kenhojo)$")
