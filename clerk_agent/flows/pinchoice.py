"""The new card's PINs chosen by the applicant (暗証番号設定依頼): checked and sealed here, then wiped.

Sealed to the municipality's X25519 key (service.wire.pin_seal), so only the municipality's 交付前設定 step can
open them; the agent never keeps, logs or shows them.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from clerk_agent.link.hub import JsonObject
from service.wire.device_auth import b64url_decode
from service.wire.pin_seal import PinChoiceError, SealedPinRequest, seal, validate_pins


class PinChoiceRefused(ValueError):
    """The chosen PINs do not follow the rules (or there are not four); nothing was sealed."""


def seal_choice(raw: bytearray, *, sealing_key: JsonObject, case_id: str) -> SealedPinRequest:
    """Seal "署名用\\n利用者証明用\\n住基\\n券面事項入力補助用" to `sealing_key`; `raw` and every part are wiped."""
    parts = [bytearray(p) for p in raw.split(b"\n")]
    raw[:] = bytes(len(raw))
    try:
        if len(parts) != 4:
            raise PinChoiceRefused("four PINs are needed")
        sign, auth, juki, kenhojo = parts
        try:
            validate_pins(sign_password=sign, auth_pin=auth, juki_pin=juki, kenhojo_pin=kenhojo)
        except PinChoiceError as exc:
            raise PinChoiceRefused(str(exc)) from None
        key = X25519PublicKey.from_public_bytes(b64url_decode(str(sealing_key["public_key"])))
        return seal(
            key,
            case_id=case_id,
            pins={"sign_password": sign, "auth_pin": auth, "juki_pin": juki, "kenhojo_pin": kenhojo},
        )
    finally:
        for part in parts:
            part[:] = bytes(len(part))
