"""The whole counter read in one worker-thread call: detect, certificates, counters, PIN, both signatures, card face."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from clerk_agent.card.protocol import CardFaceRecord, MyNumberCard, PinKind, PinStatus, possession_message
from service.wire.card_profiles import CardGeneration


@dataclass(frozen=True)
class PossessionChallenge:
    """What the hub sent to be signed: its origin, a single-use nonce and the case id."""

    origin: str
    nonce: str
    case_id: str


@dataclass(frozen=True)
class CounterRead:
    """Everything the counter read produces; the hub re-derives what it verifies from `auth_certificate` and `card_face.raw`."""

    atr: bytes
    generation: CardGeneration  # which card was read (detected from its applications, docs/card.md §3)
    auth_certificate: bytes
    auth_ca_certificate: bytes
    pin_statuses: dict[PinKind, PinStatus]
    signature: bytes
    card_face: CardFaceRecord | None
    # The card-face AP's answer over the same challenge: ties `card_face` to this card (docs/card-face-binding.md).
    card_face_signature: bytes | None
    apdu_count: int


def read_at_counter(
    card: MyNumberCard,
    *,
    auth_pin: bytearray | None,
    challenge: PossessionChallenge,
    code_b: bytearray | None = None,
    confirm_last_try: bool = False,
) -> CounterRead:
    """Run the counter read in the order that needs the fewest SELECTs; wipes `auth_pin` and `code_b`.

    The card's generation is detected first; the secrets whose counters are read are that generation's.
    """
    start = card.apdu_count
    try:
        card.detect()
        certificate = card.read_auth_certificate()
        ca_certificate = card.read_auth_ca_certificate()
        statuses = {PinKind.JPKI_SIGN: card.pin_status(PinKind.JPKI_SIGN)}
        statuses[PinKind.JPKI_AUTH] = card.verify_auth_pin(auth_pin, confirm_last_try=confirm_last_try)
        auth_pin = None
        message = possession_message(challenge.origin, challenge.nonce, challenge.case_id)
        signature = card.sign_auth(message)
        face = face_signature = None
        if code_b is not None:
            statuses[PinKind.KENKAKU_CODE_B] = card.verify_card_face_code(
                code_b, confirm_last_try=confirm_last_try
            )
            code_b = None
            face = card.read_card_face()
            face_signature = card.answer_card_face_challenge(message)
        else:
            statuses[PinKind.KENKAKU_CODE_B] = card.pin_status(PinKind.KENKAKU_CODE_B)
        if PinKind.KENHOJO_PIN in card.pin_kinds():
            statuses[PinKind.KENHOJO_PIN] = card.pin_status(PinKind.KENHOJO_PIN)
    finally:
        # An early failure must not leave a PIN behind in the caller's buffers.
        for leftover in (auth_pin, code_b):
            if leftover is not None:
                leftover[:] = bytes(len(leftover))
    return CounterRead(
        atr=card.transport.atr,
        generation=card.generation,
        auth_certificate=certificate,
        auth_ca_certificate=ca_certificate,
        pin_statuses=statuses,
        signature=signature,
        card_face=face,
        card_face_signature=face_signature,
        apdu_count=card.apdu_count - start,
    )


async def read_at_counter_async(
    card: MyNumberCard,
    *,
    auth_pin: bytearray | None,
    challenge: PossessionChallenge,
    code_b: bytearray | None = None,
    confirm_last_try: bool = False,
) -> CounterRead:
    """`read_at_counter` in a worker thread, so pyscard's blocking calls never stall the event loop."""
    return await asyncio.to_thread(
        read_at_counter,
        card,
        auth_pin=auth_pin,
        challenge=challenge,
        code_b=code_b,
        confirm_last_try=confirm_last_try,
    )
