"""The Virtual My Number Card itself: its invented people, power-cycle semantics, and the session-wide APDU guard."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clerk_agent.card import apdu
from clerk_agent.card.protocol import JPKI_AID, KENKAKU_AID
from clerk_agent.card.virtual.card import VIOLATIONS_ENV, VirtualMyNumberCard
from clerk_agent.card.virtual.people import PEOPLE, era_yymmdd, my_number_check_digit
from clerk_agent.card.virtual.signing import pkcs1v15_sign_arithmetic, pkcs1v15_sign_raw
from tests.plugins.cardkit import issued_card, rsa_key

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(1980, 2, 17), "550217"),  # 昭和55 (the example in docs/card.md §1.4)
        (dt.date(2020, 2, 24), "020224"),  # 令和2
        (dt.date(1989, 1, 7), "640107"),  # last day of 昭和
        (dt.date(1989, 1, 8), "010108"),  # first day of 平成
        (dt.date(2019, 4, 30), "310430"),
        (dt.date(2019, 5, 1), "010501"),
    ],
)
def test_era_birth_dates(day: dt.date, expected: str) -> None:
    assert era_yymmdd(day) == expected


def test_code_b_is_era_birth_date_expiry_year_and_security_code() -> None:
    hanako = PEOPLE["yamada_hanako"]
    assert hanako.code_b == "60041220344821"
    assert all(len(p.code_b) == 14 and p.code_b.isdigit() for p in PEOPLE.values())


def test_invented_my_numbers_have_a_wrong_check_digit() -> None:
    # Guarantees none of them can be a real person's number.
    for holder in PEOPLE.values():
        assert len(holder.my_number) == 12
        assert my_number_check_digit(holder.my_number[:11]) != int(holder.my_number[11])
    assert my_number_check_digit("12345678901") == 8  # a published example number: 123456789018


def test_power_on_keeps_counters_but_drops_verification(hanako_card: VirtualMyNumberCard) -> None:
    select_jpki = apdu.select_df(JPKI_AID).encode()
    hanako_card.process(select_jpki)
    assert hanako_card.process(bytes.fromhex("0020009804") + b"0000") == b"\x63\xc2"
    assert (
        hanako_card.process(bytes.fromhex("0020009804") + PEOPLE["yamada_hanako"].auth_pin.encode())
        == b"\x90\x00"
    )
    hanako_card.process(bytes.fromhex("0020009804") + b"0000")
    hanako_card.power_on()
    hanako_card.process(select_jpki)
    assert hanako_card.process(bytes.fromhex("00200098")) == b"\x63\xc2", "the counter survives power-off"
    signature = hanako_card.process(apdu.compute_signature(apdu.sha256_digest_info(bytes(32)), 0x97).encode())
    assert signature == b"\x69\x82", "no VERIFY survives power-off"


def test_unknown_instruction_and_class(hanako_card: VirtualMyNumberCard) -> None:
    assert hanako_card.process(bytes.fromhex("00ca000000"))[-2:] == b"\x6d\x00"
    assert hanako_card.process(bytes.fromhex("80a4040c00"))[-2:] == b"\x6e\x00"


def test_read_without_current_ef_and_past_the_end(hanako_card: VirtualMyNumberCard) -> None:
    assert hanako_card.process(apdu.read_binary(0, 1).encode()) == b"\x69\x85"
    hanako_card.process(apdu.select_df(KENKAKU_AID).encode())
    hanako_card.process(apdu.select_ef(0x0003).encode())
    assert hanako_card.process(apdu.read_binary(0x7000, 1).encode()) == b"\x6b\x00"
    tail = hanako_card.process(apdu.read_binary(0, 256).encode())
    assert tail[-2:] == b"\x62\x82", "shorter than Le: end of file"


def test_the_guard_fails_a_session_that_reads_the_my_number(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_leak.py").write_text(
        textwrap.dedent(
            """
            from clerk_agent.card import apdu
            from clerk_agent.card.protocol import KENHOJO_AID
            from clerk_agent.card.virtual.card import Application, ElementaryFile, VirtualMyNumberCard

            def test_leak():
                card = VirtualMyNumberCard(
                    [Application(KENHOJO_AID, files={1: ElementaryFile(b"\\xff\\x10\\x0c" + b"0" * 12)})]
                )
                card.process(apdu.select_df(KENHOJO_AID).encode())
                card.process(apdu.select_ef(0x0001).encode())
            """
        )
    )
    (tmp_path / "test_clean.py").write_text("def test_clean():\n    assert True\n")
    env = {k: v for k, v in os.environ.items() if k != VIOLATIONS_ENV}
    env["PYTHONPATH"] = str(ROOT)

    def run(target: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "tests.plugins.apdu_guard",
                target,
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    leak = run("test_leak.py")
    assert leak.returncode == 1, leak.stdout + leak.stderr
    assert "APDU guard" in leak.stdout
    assert "EF 0001" in leak.stdout
    clean = run("test_clean.py")
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_both_signing_paths_give_the_card_signature() -> None:
    key = rsa_key(issued_card("yamada_hanako").card_face_key)
    digest_info = apdu.sha256_digest_info(bytes(range(32)))
    assert pkcs1v15_sign_raw(key, digest_info) == pkcs1v15_sign_arithmetic(key, digest_info)
    with pytest.raises(ValueError, match="PKCS#1"):
        pkcs1v15_sign_arithmetic(key, bytes(246))


def test_signing_password_blocks_after_five_wrong_tries(hanako_card: VirtualMyNumberCard) -> None:
    hanako_card.process(apdu.select_df(JPKI_AID).encode())
    answers = [hanako_card.process(bytes.fromhex("0020009b06") + b"WRONG1") for _ in range(5)]
    assert answers == [b"\x63\xc4", b"\x63\xc3", b"\x63\xc2", b"\x63\xc1", b"\x63\xc0"]
    right = PEOPLE["yamada_hanako"].sign_password.encode()
    assert hanako_card.process(bytes.fromhex("0020009b") + bytes((len(right),)) + right) == b"\x69\x84"
    # The signing certificate (it carries the basic-4) stays closed.
    assert hanako_card.process(apdu.read_binary_sfi(0x01, 0, 256).encode()) == b"\x69\x82"


def test_the_card_face_ap_answers_a_challenge_with_its_own_key_and_no_credential(
    hanako_card: VirtualMyNumberCard,
) -> None:
    """`80 2A 00 00` in the 券面事項確認AP signs with the DF24 key without VERIFY; the old emulator answered 6A86."""
    digest_info = apdu.sha256_digest_info(bytes(range(32)))
    hanako_card.process(apdu.select_df(KENKAKU_AID).encode())
    answer = hanako_card.process(apdu.compute_signature(digest_info, 0x00).encode())
    assert answer[-2:] == b"\x90\x00"
    assert answer[:-2] == pkcs1v15_sign_raw(rsa_key(issued_card("yamada_hanako").card_face_key), digest_info)
    # The JPKI AP has no such credential-free key: its keys stay behind the PIN.
    hanako_card.process(apdu.select_df(JPKI_AID).encode())
    assert hanako_card.process(apdu.compute_signature(digest_info, 0x00).encode()) == b"\x6a\x86"
