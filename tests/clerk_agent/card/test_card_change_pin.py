"""CHANGE REFERENCE DATA on the card (the holder's own PIN change, docs/card-procedures.md §Seam).

The current PIN is verified first in the same session; the card refuses a change without it; a wrong current PIN
spends a try like any VERIFY; the new PIN opens the card afterwards; the My Number keys are never changed.
"""

from __future__ import annotations

import pytest

from clerk_agent.card.apdu import SW
from clerk_agent.card.protocol import JPKI_AID, KENKAKU_AID, MyNumberCard, PinKind
from clerk_agent.card.virtual.build import person
from clerk_agent.card.virtual.card import VirtualMyNumberCard
from clerk_agent.errors import ApduFailed, InvalidPinFormat, PinIncorrect

HANAKO = person("yamada_hanako")


def test_a_changed_auth_pin_opens_the_card_and_the_old_one_no_longer_does(
    card: MyNumberCard, hanako_card: VirtualMyNumberCard
) -> None:
    card.detect()
    current, new = bytearray(HANAKO.auth_pin.encode()), bytearray(b"9406")
    card.change_pin(PinKind.JPKI_AUTH, current, new)
    assert current == bytearray(4)  # both wiped
    assert new == bytearray(4)
    hanako_card.reset()
    card.forget_selection()
    card.verify_auth_pin(bytearray(b"9406"))
    hanako_card.reset()
    card.forget_selection()
    with pytest.raises(PinIncorrect):
        card.verify_auth_pin(bytearray(HANAKO.auth_pin.encode()))


def test_the_signing_password_takes_capitals_and_digits(
    card: MyNumberCard, hanako_card: VirtualMyNumberCard
) -> None:
    card.detect()
    card.change_pin(PinKind.JPKI_SIGN, bytearray(HANAKO.sign_password.encode()), bytearray(b"SAKURA2026"))
    assert hanako_card.key(JPKI_AID, 0x001B).secret == b"SAKURA2026"
    with pytest.raises(InvalidPinFormat):
        card.change_pin(PinKind.JPKI_SIGN, bytearray(b"SAKURA2026"), bytearray(b"sakura-2026"))


def test_a_wrong_current_pin_spends_a_try_and_changes_nothing(
    card: MyNumberCard, hanako_card: VirtualMyNumberCard
) -> None:
    card.detect()
    with pytest.raises(PinIncorrect) as wrong:
        card.change_pin(PinKind.JPKI_AUTH, bytearray(b"0000"), bytearray(b"9406"))
    assert wrong.value.retries_left == 2
    assert hanako_card.key(JPKI_AID, 0x0018).secret == HANAKO.auth_pin.encode()


def test_the_card_refuses_a_change_without_the_current_pin_and_never_touches_the_my_number_key(
    hanako_card: VirtualMyNumberCard, local_violations: list[str]
) -> None:
    hanako_card._violation_sink = local_violations.append
    hanako_card.process(bytes.fromhex("00A4040C0A") + JPKI_AID)
    answer = hanako_card.process(bytes.fromhex("002401980439343036"))  # no VERIFY before it
    assert int.from_bytes(answer[-2:], "big") == SW.SECURITY_NOT_SATISFIED
    assert hanako_card.key(JPKI_AID, 0x0018).secret == HANAKO.auth_pin.encode()
    hanako_card.process(bytes.fromhex("00A4040C0A") + KENKAKU_AID)
    refused = hanako_card.process(bytes.fromhex("002401930439343036"))  # 照合番号A, the My Number
    assert int.from_bytes(refused[-2:], "big") == SW.SECURITY_NOT_SATISFIED
    assert local_violations


def test_a_refused_change_is_reported_not_ignored(
    card: MyNumberCard, hanako_card: VirtualMyNumberCard
) -> None:
    card.detect()
    hanako_card._verified.clear()  # as if the card dropped the verification between the two commands
    original = hanako_card._verify

    def verify_then_forget(command: object) -> bytes:
        answer = original(command)  # type: ignore[arg-type]
        hanako_card._verified.clear()
        return answer

    hanako_card._verify = verify_then_forget  # type: ignore[method-assign,assignment]
    with pytest.raises(ApduFailed):
        card.change_pin(PinKind.JPKI_AUTH, bytearray(HANAKO.auth_pin.encode()), bytearray(b"9406"))
