"""The applicant's PIN entry for the card work, checked at the counter (clerk_agent/flows/cardwork.py `check_entry`).

Each refusal names the field and what is wrong, never the value, and every buffer is wiped whatever happens.
"""

from __future__ import annotations

import pytest

from clerk_agent.flows.cardwork import PinEntryRefused, check_entry
from service.wire.cardwork import PinMode, PinWhich


def test_a_change_gives_the_current_and_the_new_pin_and_wipes_the_body() -> None:
    raw = bytearray(b"4721\n9406\n9406")
    current, new = check_entry(raw, PinWhich.auth, PinMode.change)
    assert (current, new) == (bytearray(b"4721"), bytearray(b"9406"))
    assert raw == bytearray(len(raw))


def test_a_reset_gives_only_the_new_pin() -> None:
    current, new = check_entry(bytearray(b"SAKURA2026\nSAKURA2026"), PinWhich.sign, PinMode.reset)
    assert current is None
    assert new == bytearray(b"SAKURA2026")


@pytest.mark.parametrize(
    ("raw", "which", "mode", "code"),
    [
        (b"4721\n9406\n9407", PinWhich.auth, PinMode.change, "pin_work_mismatch_new"),
        (b"4721\n94\n94", PinWhich.auth, PinMode.change, "pin_work_rule_new"),
        (b"47a1\n9406\n9406", PinWhich.auth, PinMode.change, "pin_work_rule_current"),
        (b"4721\n4721\n4721", PinWhich.auth, PinMode.change, "pin_work_same_new"),
        (b"sakura2026\nsakura2026", PinWhich.sign, PinMode.reset, "pin_work_rule_new"),
        (b"SAKURA\nSAKURA", PinWhich.sign, PinMode.reset, "pin_work_rule_new"),  # letters only: needs a digit
        (b"9406", PinWhich.kenhojo, PinMode.reset, "pin_work_rule_new"),  # the confirmation is missing
    ],
)
def test_refusals_name_the_field_never_the_value(
    raw: bytes, which: PinWhich, mode: PinMode, code: str
) -> None:
    body = bytearray(raw)
    with pytest.raises(PinEntryRefused) as refused:
        check_entry(body, which, mode)
    assert refused.value.code == code
    assert body == bytearray(len(body))
    for part in raw.split(b"\n"):
        if len(part) >= 4:
            assert part.decode() not in str(refused.value)
