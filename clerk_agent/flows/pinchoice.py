"""The new card's PINs chosen by the applicant (暗証番号設定依頼): checked here, sealed, then wiped.

Each PIN comes twice (typed, then typed again to confirm), so one slip does not leave the applicant with a PIN
they do not know. The rules (docs/domain.md §A2.19) are enforced here, field by field, whatever the browser
checked: a refusal names the field and what is wrong, never the value. Sealed to the municipality's X25519 key
(service.wire.pin_seal), so only the municipality's 交付前設定 step can open them; the agent never keeps, logs
or shows them.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from clerk_agent.link.hub import JsonObject
from service.wire.device_auth import b64url_decode
from service.wire.pin_seal import (
    FOUR_DIGITS,
    SIGN_PASSWORD,
    PinChoiceError,
    SealedPinRequest,
    seal,
    validate_pins,
)


@dataclass(frozen=True)
class PinField:
    """One PIN of the new card: its key in the sealed request, its name and rule in both languages."""

    key: str
    sealed_as: str
    label: tuple[str, str]
    rule: tuple[str, str]
    pattern: re.Pattern[str]
    max_length: int
    letters: bool


FIELDS: Final = (
    PinField(
        "sign",
        "sign_password",
        ("署名用電子証明書のパスワード", "Signing certificate password"),
        ("英大文字と数字を両方含む6〜16文字", "6–16 capital letters and digits, with both"),
        SIGN_PASSWORD,
        16,
        True,
    ),
    PinField(
        "auth",
        "auth_pin",
        ("利用者証明用電子証明書の暗証番号", "User authentication PIN"),
        ("数字4桁", "4 digits"),
        FOUR_DIGITS,
        4,
        False,
    ),
    PinField(
        "juki",
        "juki_pin",
        ("住民基本台帳用の暗証番号", "Resident registry PIN"),
        ("数字4桁", "4 digits"),
        FOUR_DIGITS,
        4,
        False,
    ),
    PinField(
        "kenhojo",
        "kenhojo_pin",
        ("券面事項入力補助用の暗証番号", "Card-face input support PIN"),
        ("数字4桁", "4 digits"),
        FOUR_DIGITS,
        4,
        False,
    ),
)
_BY_KEY: Final = {f.key: f for f in FIELDS}
KINDS: Final = ("rule", "mismatch")
_NOTICE: Final = re.compile(r"^pin_choice_(rule|mismatch|count)(?:_(sign|auth|juki|kenhojo))?$")


class PinChoiceRefused(ValueError):
    """A chosen PIN breaks its rule or its two entries differ; nothing was sealed. Names the field, not the value."""

    def __init__(self, kind: str, field: str | None = None) -> None:
        super().__init__(f"{kind} {field or ''}".strip())
        self.kind = kind
        self.field = field

    @property
    def notice(self) -> str:
        """The notice code the counter shows for it (see refusal_text)."""
        return f"pin_choice_{self.kind}_{self.field}" if self.field else f"pin_choice_{self.kind}"


def refusal_of(notice: str | None) -> tuple[str, str | None] | None:
    """(kind, field) of a pin-choice notice code, or None for any other notice."""
    found = _NOTICE.match(notice or "")
    return (found.group(1), found.group(2)) if found else None


def refusal_text(kind: str, field: str | None) -> tuple[str, str]:
    """What the applicant reads: which field, and what to do (Japanese, English)."""
    spec = _BY_KEY.get(field or "")
    if spec is None or kind not in KINDS:
        return ("暗証番号をもう一度入力してください。", "Please enter the PINs again.")
    ja, en = spec.label
    if kind == "mismatch":
        return (
            f"{ja}：1回目と確認の入力が違います。この暗証番号をもう一度2回入力してください。",
            f"{en}: the two entries differ. Please enter this PIN twice again.",
        )
    rule_ja, rule_en = spec.rule
    return (
        f"{ja}は{rule_ja}です。この暗証番号をもう一度入力してください。",
        f"{en}: {rule_en}. Please enter this PIN again.",
    )


def _check(parts: list[bytearray]) -> None:
    """Field by field, in screen order: the first entry against its rule, then the two entries against each other."""
    if len(parts) != 2 * len(FIELDS):
        raise PinChoiceRefused("count")
    for i, spec in enumerate(FIELDS):
        first, again = parts[2 * i], parts[2 * i + 1]
        if not spec.pattern.match(first.decode("ascii", "replace")):
            raise PinChoiceRefused("rule", spec.key)
        if not hmac.compare_digest(bytes(first), bytes(again)):
            raise PinChoiceRefused("mismatch", spec.key)


def seal_choice(raw: bytearray, *, sealing_key: JsonObject, case_id: str) -> SealedPinRequest:
    """Seal the PINs to `sealing_key`; `raw` and every part are wiped, sealed or refused.

    `raw` is eight lines: 署名用, its confirmation, 利用者証明用, its confirmation, 住基, its confirmation,
    券面事項入力補助用, its confirmation.
    """
    parts = [bytearray(p) for p in raw.split(b"\n")]
    raw[:] = bytes(len(raw))
    try:
        _check(parts)
        pins = {spec.sealed_as: parts[2 * i] for i, spec in enumerate(FIELDS)}
        try:
            validate_pins(
                sign_password=pins["sign_password"],
                auth_pin=pins["auth_pin"],
                juki_pin=pins["juki_pin"],
                kenhojo_pin=pins["kenhojo_pin"],
            )
        except PinChoiceError:  # the wire's own rules; _check already follows them
            raise PinChoiceRefused("count") from None
        key = X25519PublicKey.from_public_bytes(b64url_decode(str(sealing_key["public_key"])))
        return seal(key, case_id=case_id, pins=pins)
    finally:
        for part in parts:
            part[:] = bytes(len(part))
