"""The new card's PINs at the agent (clerk_agent/flows/pinchoice.py): each PIN twice, every rule enforced here
whatever the browser checked, a refusal that names the field (never the value), and every buffer wiped."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from clerk_agent.flows.pinchoice import FIELDS, PinChoiceRefused, refusal_of, refusal_text, seal_choice
from service.wire.device_auth import b64url
from service.wire.pin_seal import open_sealed

CHOSEN = ("TEST2026K", "3141", "5926", "5358")  # invented for the test
CASE = "case-pin-choice-test"


def _key() -> tuple[X25519PrivateKey, dict[str, object]]:
    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return private, {"public_key": b64url(public)}


def _raw(pins: list[str]) -> bytearray:
    return bytearray("\n".join(pins).encode())


def _twice(chosen: tuple[str, ...] = CHOSEN) -> list[str]:
    return [p for p in chosen for _ in "12"]


def test_both_entries_alike_are_sealed_and_every_buffer_wiped() -> None:
    private, key = _key()
    raw = _raw(_twice())
    sealed = seal_choice(raw, sealing_key=key, case_id=CASE)
    assert raw == bytes(len(raw))
    opened = open_sealed(private, sealed, case_id=CASE)
    assert opened == {
        "sign_password": CHOSEN[0],
        "auth_pin": CHOSEN[1],
        "juki_pin": CHOSEN[2],
        "kenhojo_pin": CHOSEN[3],
    }


@pytest.mark.parametrize(
    ("index", "value", "kind", "field"),
    [
        (0, "kaku2026x", "rule", "sign"),  # capitals only
        (0, "ABCDEFG", "rule", "sign"),  # a digit too
        (0, "A1B2C", "rule", "sign"),  # six at least
        (0, "A" * 16 + "1", "rule", "sign"),  # sixteen at most
        (1, "TEST2026L", "mismatch", "sign"),
        (2, "314", "rule", "auth"),
        (3, "3142", "mismatch", "auth"),
        (4, "59a6", "rule", "juki"),
        (5, "5927", "mismatch", "juki"),
        (6, "53589", "rule", "kenhojo"),
        (7, "", "mismatch", "kenhojo"),
    ],
)
def test_a_wrong_field_is_named_and_nothing_sealed(index: int, value: str, kind: str, field: str) -> None:
    _, key = _key()
    pins = _twice()
    pins[index] = value
    if index % 2 == 0:
        pins[index + 1] = value  # the same slip twice: the rule, not the confirmation, is what is wrong
    raw = _raw(pins)
    with pytest.raises(PinChoiceRefused) as refused:
        seal_choice(raw, sealing_key=key, case_id=CASE)
    assert raw == bytes(len(raw))
    assert (refused.value.kind, refused.value.field) == (kind, field)
    assert refusal_of(refused.value.notice) == (kind, field)
    for text in (str(refused.value), *refusal_text(kind, field)):
        assert not any(pin in text for pin in CHOSEN)
        assert not value or value not in text


def test_four_pins_once_each_are_refused() -> None:
    _, key = _key()
    with pytest.raises(PinChoiceRefused) as refused:
        seal_choice(_raw(list(CHOSEN)), sealing_key=key, case_id=CASE)
    assert refused.value.notice == "pin_choice_count"


def test_every_refusal_names_its_field_in_both_languages() -> None:
    for field in FIELDS:
        for kind in ("rule", "mismatch"):
            ja, en = refusal_text(kind, field.key)
            assert field.label[0] in ja
            assert field.label[1] in en
    assert refusal_of("hub_refused") is None
