"""Card-swap binding: the same card binds equal; another card or a tampered proof does not bind."""

from __future__ import annotations

import dataclasses

import pytest

from service.cardproof.binding import BindingUnavailable, binding_for
from tests.service.cardproof.test_verify import check, read_proof

ATR = bytes.fromhex("3BE000FF8131FE4514")


def test_same_card_binds_equal_and_a_swap_names_every_changed_field() -> None:
    first = binding_for(check(read_proof("yamada_hanako")), ATR)
    again = binding_for(check(read_proof("yamada_hanako")), ATR)
    assert first == again
    assert first.changes(again) == ()
    swapped = binding_for(check(read_proof("sato_taro")), ATR[:-1] + b"\x15")
    assert first.changes(swapped) == ("atr_sha256", "certificate_serial", "card_face_sha256")
    only_atr = dataclasses.replace(first, atr_sha256=swapped.atr_sha256)
    assert first.changes(only_atr) == ("atr_sha256",)


def test_a_failed_proof_gives_no_binding() -> None:
    result = check(read_proof("yamada_hanako"), allow_test_roots=False)
    with pytest.raises(BindingUnavailable, match="test_root_in_production"):
        binding_for(result, ATR)
