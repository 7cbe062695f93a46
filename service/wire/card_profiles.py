"""The card profiles, in one place: the current My Number Card (2016) and the next-generation card (FY2028 expected).

Everything that differs between the generations lives here and nowhere else — application ids, file ids, the
signature scheme, the PIN set, the card-face access code, certificate validity and the renewal window — so that the
agent's card layer, the virtual card and the hub read the same facts (docs/card.md §3). Pure data and date
arithmetic: both the hub and clerk_agent import it.

The current profile is what several independent open-source readers agree on (docs/card.md §1). For the next
generation only the outline is published (the government task force's final report, 2024-03): ECDSA P-384 /
SHA-384, two applications (an authentication AP with the PIN functions, a card-face AP opened by a 照合番号 printed
on the card), two PINs, certificates valid ten years, renewal from one year before expiry, no sex on the card face.
Its application ids, file ids, token label, command details and the 照合番号's format are **assumptions**
(docs/card.md §3.2) marked `assumed` below; when J-LIS publishes the interface, only this module changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class CardGeneration(StrEnum):
    """Which My Number Card was read: named by the year its profile came (stable ids, carried on the wire)."""

    GEN2016 = "gen2016"  # the current card, issued since January 2016
    GEN2028 = "gen2028"  # the next-generation card, expected from FY2028


CARD_GENERATION_LABELS: Final[dict[CardGeneration, tuple[str, str]]] = {
    CardGeneration.GEN2016: ("現行カード（2016年〜）", "Current card (2016–)"),
    CardGeneration.GEN2028: ("次期カード（2028年度〜予定）", "Next-generation card (FY2028–, expected)"),
}


class SignatureScheme(StrEnum):
    """How the card's keys sign, and how the hub checks them."""

    # PKCS#1 v1.5 over a SHA-256 DigestInfo the caller builds (docs/card.md §1.7).
    RSA2048_SHA256 = "rsa2048_pkcs1v15_sha256"
    # ECDSA on P-384 over a SHA-384 hash the caller sends; the card answers r ‖ s, 48 bytes each (assumed).
    ECDSA_P384_SHA384 = "ecdsa_p384_sha384"


class PinRole(StrEnum):
    """What a secret on the card is for; values match the agent's PinKind, so they serialise as they are."""

    AUTH = "jpki_auth"  # 利用者証明用暗証番号
    SIGN = "jpki_sign"  # 署名用パスワード
    KENHOJO = "kenhojo_pin"  # 券面事項入力補助用暗証番号 (current card only)
    CARD_FACE_CODE = "kenkaku_code_b"  # the card-face AP's access code: 照合番号B, or the printed 照合番号


@dataclass(frozen=True)
class PinSpec:
    """One secret: the application and key reference holding it, its format and its retry limit."""

    role: PinRole
    aid: bytes
    key_fid: int
    min_length: int
    max_length: int
    alphabet: str  # "digits" or "A-Z0-9"
    tries: int | None  # None: not established from any source
    label_ja: str
    label_en: str

    def accepts(self, secret: str) -> bool:
        """Whether `secret` has this secret's format (length and alphabet)."""
        if not self.min_length <= len(secret) <= self.max_length or not secret.isascii():
            return False
        if self.alphabet == "digits":
            return secret.isdigit()
        return all(c.isdigit() or "A" <= c <= "Z" for c in secret)


@dataclass(frozen=True)
class CardProfile:
    """One generation of the card: its interface, its algorithms, its secrets and its dates."""

    generation: CardGeneration
    token_label: bytes  # the first 32 bytes of the authentication AP's EF 0006, space padded
    auth_aid: bytes  # the AP holding the authentication key and its PIN (JPKI AP / 認証AP)
    card_face_aid: bytes  # the AP holding the signed card face (券面事項確認AP / 券面等AP)
    kenhojo_aid: bytes | None  # 券面事項入力補助AP, asked only for its PIN counter; None where there is none
    ef_token: int
    ef_auth_cert: int
    ef_auth_ca: int
    ef_auth_key: int
    ef_sign_cert: int
    ef_sign_key: int
    ef_card_face: int
    signature: SignatureScheme
    max_signature_input: int  # the longest block COMPUTE DIGITAL SIGNATURE takes (DigestInfo or bare hash)
    pins: tuple[PinSpec, ...]
    forbidden_files: frozenset[
        tuple[bytes, int]
    ]  # the My Number and what derives from it: never selected or read
    card_face_has_sex: bool
    certificate_validity_years: int  # e-certificates end on the holder's this-many-th birthday after issue
    renewal_window_months: int  # e-certificate renewal opens this many months before expiry
    applications: tuple[bytes, ...]  # every AP on the chip, in the order a scan lists them

    @property
    def label(self) -> tuple[str, str]:
        """Japanese and English name of the generation, for the counter and the console."""
        return CARD_GENERATION_LABELS[self.generation]

    def pin(self, role: PinRole) -> PinSpec:
        """The spec of one secret; KeyError when this generation has no such secret."""
        for spec in self.pins:
            if spec.role is role:
                return spec
        raise KeyError(f"{self.generation.value} has no {role.value}")

    def has(self, role: PinRole) -> bool:
        """Whether this generation has the secret."""
        return any(spec.role is role for spec in self.pins)

    @property
    def card_face_code(self) -> PinSpec:
        """The code that opens the card face (照合番号B on the current card, the printed 照合番号 on the next)."""
        return self.pin(PinRole.CARD_FACE_CODE)


# --- the current card (2016) --------------------------------------------------------------------------------------

JPKI_AID: Final = bytes.fromhex("D392F000260100000001")
KENHOJO_AID: Final = bytes.fromhex("D3921000310001010408")
KENKAKU_AID: Final = bytes.fromhex("D3921000310001010402")

CURRENT: Final = CardProfile(
    generation=CardGeneration.GEN2016,
    token_label=b"JPKIAPICCTOKEN2",
    auth_aid=JPKI_AID,
    card_face_aid=KENKAKU_AID,
    kenhojo_aid=KENHOJO_AID,
    ef_token=0x0006,
    ef_auth_cert=0x000A,
    ef_auth_ca=0x000B,
    ef_auth_key=0x0017,
    ef_sign_cert=0x0001,
    ef_sign_key=0x001A,
    ef_card_face=0x0002,
    signature=SignatureScheme.RSA2048_SHA256,
    max_signature_input=245,
    pins=(
        PinSpec(
            PinRole.AUTH,
            JPKI_AID,
            0x0018,
            4,
            4,
            "digits",
            3,
            "利用者証明用暗証番号",
            "user-authentication PIN",
        ),
        PinSpec(PinRole.SIGN, JPKI_AID, 0x001B, 6, 16, "A-Z0-9", 5, "署名用パスワード", "signing password"),
        PinSpec(
            PinRole.KENHOJO,
            KENHOJO_AID,
            0x0011,
            4,
            4,
            "digits",
            3,
            "券面事項入力補助用暗証番号",
            "card-text PIN",
        ),
        PinSpec(PinRole.CARD_FACE_CODE, KENKAKU_AID, 0x0012, 14, 14, "digits", None, "照合番号B", "code B"),
    ),
    # Kenhojo EF 0001 is the number, EF 0003 holds SHA-256 of it; Kenkaku EF 0005 is its image (docs/card.md §1.3).
    forbidden_files=frozenset({(KENHOJO_AID, 0x0001), (KENHOJO_AID, 0x0003), (KENKAKU_AID, 0x0005)}),
    card_face_has_sex=True,
    certificate_validity_years=5,
    renewal_window_months=3,
    applications=(JPKI_AID, KENHOJO_AID, KENKAKU_AID, bytes.fromhex("D3921000310001010100")),
)

# --- the next-generation card (FY2028 expected) -------------------------------------------------------------------

# assumed: the same registered prefixes as today's APs (J-LIS's D392F0 and D39210 RIDs), with new suffixes.
NEXT_AUTH_AID: Final = bytes.fromhex("D392F000260100000002")
NEXT_CARD_FACE_AID: Final = bytes.fromhex("D3921000310001010410")

NEXT: Final = CardProfile(
    generation=CardGeneration.GEN2028,
    token_label=b"JPKIAPICCTOKEN3",  # assumed: the next label in the series
    auth_aid=NEXT_AUTH_AID,
    card_face_aid=NEXT_CARD_FACE_AID,
    kenhojo_aid=None,  # published: two APs only; the card-text functions move into the card-face AP
    # assumed: the authentication AP keeps the JPKI AP's file ids.
    ef_token=0x0006,
    ef_auth_cert=0x000A,
    ef_auth_ca=0x000B,
    ef_auth_key=0x0017,
    ef_sign_cert=0x0001,
    ef_sign_key=0x001A,
    ef_card_face=0x0002,
    signature=SignatureScheme.ECDSA_P384_SHA384,  # published
    max_signature_input=48,  # a bare SHA-384 hash
    pins=(
        # published: two PINs; assumed: they keep today's formats and limits.
        PinSpec(
            PinRole.AUTH,
            NEXT_AUTH_AID,
            0x0018,
            4,
            4,
            "digits",
            3,
            "利用者証明用暗証番号",
            "user-authentication PIN",
        ),
        PinSpec(
            PinRole.SIGN, NEXT_AUTH_AID, 0x001B, 6, 16, "A-Z0-9", 5, "署名用パスワード", "signing password"
        ),
        # published: printed on the card; assumed: 14 digits (the length of 照合番号B, so the counter's entry is the
        # same), key 0012, limit not established.
        PinSpec(
            PinRole.CARD_FACE_CODE,
            NEXT_CARD_FACE_AID,
            0x0012,
            14,
            14,
            "digits",
            None,
            "照合番号",
            "card-face code",
        ),
    ),
    # assumed: the card-face AP holds the number as text (EF 0001) and as an image (EF 0005), as the two APs it
    # replaces did; both stay out of reach.
    forbidden_files=frozenset({(NEXT_CARD_FACE_AID, 0x0001), (NEXT_CARD_FACE_AID, 0x0005)}),
    card_face_has_sex=False,  # published: the next card face shows no sex
    certificate_validity_years=10,  # published: ten years (assumed: to the tenth birthday, as today to the fifth)
    renewal_window_months=12,  # published: renewal from one year before expiry
    applications=(NEXT_AUTH_AID, NEXT_CARD_FACE_AID),
)

PROFILES: Final[dict[CardGeneration, CardProfile]] = {CURRENT.generation: CURRENT, NEXT.generation: NEXT}
# The order detection tries them in: the card in every wallet today first.
DETECTION_ORDER: Final = (CURRENT, NEXT)


def profile_for(generation: CardGeneration | str) -> CardProfile:
    """The profile of a generation (a CardGeneration or its wire value)."""
    return PROFILES[CardGeneration(generation)]


# --- dates: validity and renewal window ---------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved by `months` (negative: back), clamped to the month's last day (31 May − 3 months → 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def _birthday_in(year: int, birth_date: dt.date) -> dt.date:
    # A 29 February birthday falls on 28 February in common years.
    try:
        return birth_date.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


def certificate_expiry(profile: CardProfile, *, issued: dt.date, birth_date: dt.date) -> dt.date:
    """The last day of an e-certificate issued on `issued`: the holder's n-th birthday after issue (n per profile)."""
    birthday = _birthday_in(issued.year, birth_date)
    first = birthday if birthday > issued else _birthday_in(issued.year + 1, birth_date)
    return _birthday_in(first.year + profile.certificate_validity_years - 1, birth_date)


def renewal_opens(profile: CardProfile, expiry: dt.date) -> dt.date:
    """The first day an e-certificate expiring on `expiry` may be renewed (before that: refused as too early)."""
    return add_months(expiry, -profile.renewal_window_months)


def in_renewal_window(profile: CardProfile, expiry: dt.date, today: dt.date) -> bool:
    """Whether `today` lies in the renewal window (from `renewal_opens` to expiry; after expiry it is an issue)."""
    return renewal_opens(profile, expiry) <= today <= expiry
