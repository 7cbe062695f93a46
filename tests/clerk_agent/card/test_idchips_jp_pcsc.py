"""The Japanese chip documents read through the real pcscd + vpcd stack (docs/id-documents.md §Japanese).

The virtual licence and residence cards are plugged into our vpcd slot and read by the counter's readers over
PC/SC, as a contactless reader would present them. Access data stays at the counter: the tests also check what
crossed the wire to the card.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from clerk_agent.card import pcsc
from clerk_agent.card.idchips.jp_detect import detect_jp_document
from clerk_agent.card.idchips.licence import LicencePinIncorrect, LicenceReader
from clerk_agent.card.idchips.residence import AccessKeyRejected, ResidenceReader
from clerk_agent.card.virtual.idchips.jp_engine import JpDf, JpFileCard
from clerk_agent.card.virtual.idchips.licence import build_virtual_licence
from clerk_agent.card.virtual.idchips.residence import build_virtual_residence_card
from clerk_agent.card.virtual.pcscd import VpcdSlot
from clerk_agent.card.virtual.vicc import ViccClient, VirtualChip
from clerk_agent.errors import InvalidPinFormat, PinBlocked
from service.idchips.verifiers import VERIFIERS
from service.wire import idchips_jp as jp
from service.wire.idchips import ChipKind, ChipVerdict
from tests.service.idchips.jp_kit import jp_anchors

ANCHORS = jp_anchors("driving_licence", "residence_card")


@pytest.fixture
def slot(vpcd_slot: VpcdSlot) -> Iterator[tuple[VpcdSlot, list[ViccClient]]]:
    """Our vpcd slot and the cards plugged into it; all removed at teardown."""
    clients: list[ViccClient] = []
    yield vpcd_slot, clients
    for client in clients:
        client.stop()
    pcsc.wait_for_card_event(vpcd_slot.reader, present=False)


def plug(slot: tuple[VpcdSlot, list[ViccClient]], card: VirtualChip) -> pcsc.PcscTransport:
    """Insert `card`, wait until pcscd has seen it, and connect to it."""
    vpcd, clients = slot
    _present, before = pcsc.reader_state(vpcd.reader)
    clients.append(ViccClient(card, port=vpcd.port, netns=vpcd.netns).start())
    pcsc.wait_for_card_event(vpcd.reader, present=True, after=before)
    return pcsc.connect_with_backoff(vpcd.reader)


def test_licence_reads_with_both_pins_and_shows_tries_first(slot: tuple[VpcdSlot, list[ViccClient]]) -> None:
    card = build_virtual_licence("sato_ichiro")
    with plug(slot, card) as transport:
        reader = LicenceReader(transport)
        status = reader.pin_status()
        assert (status.pins_set, status.pin1_tries, status.pin2_tries) == (True, 3, 3)
        pin1, pin2 = bytearray(b"2580"), bytearray(b"1397")
        objects = reader.read(pin1, pin2).objects
    assert set(objects) == set(jp.LICENCE_OBJECTS)
    assert pin1 == bytearray()  # wiped
    assert pin2 == bytearray()
    assert objects["df2_ef01"].startswith(b"\x5f\x40")
    # What crossed PC/SC is what the hub verifies.
    verdict = VERIFIERS[ChipKind.driving_licence](objects, ANCHORS, dt.datetime.now(dt.UTC)).verdict
    assert verdict == ChipVerdict.verified
    # The PINs went to the card only inside their VERIFY commands.
    carrying = [a for a in card.apdu_log if b"2580" in a or b"1397" in a]
    assert [a[:4] for a in carrying] == [bytes.fromhex("00200081"), bytes.fromhex("00200082")]


def test_a_wrong_licence_pin_names_which_and_counts_down(slot: tuple[VpcdSlot, list[ViccClient]]) -> None:
    card = build_virtual_licence("sato_ichiro")
    with plug(slot, card) as transport:
        reader = LicenceReader(transport)
        with pytest.raises(LicencePinIncorrect) as wrong:
            reader.read(bytearray(b"2580"), bytearray(b"0000"))
        assert (wrong.value.which, wrong.value.retries_left) == (2, 2)
        assert reader.pin_status().pin2_tries == 2
        with pytest.raises(InvalidPinFormat):
            reader.read(bytearray(b"25a0"), bytearray(b"1397"))
        assert reader.pin_status().pin2_tries == 2  # a malformed PIN costs no try


def test_a_blocked_licence_pin_is_refused_before_any_try(slot: tuple[VpcdSlot, list[ViccClient]]) -> None:
    card = build_virtual_licence("sato_ichiro")
    card.keys[jp.LICENCE_PIN1_P2].tries_left = 0
    with plug(slot, card) as transport, pytest.raises(PinBlocked):
        LicenceReader(transport).read(bytearray(b"2580"), bytearray(b"1397"))
    assert not any(a[:4] == bytes.fromhex("00200081") and len(a) > 5 for a in card.apdu_log)


def test_residence_card_opens_with_its_number_only(slot: tuple[VpcdSlot, list[ViccClient]]) -> None:
    card = build_virtual_residence_card("nguyen_lan")
    number = bytearray(b"XX12345678AB")
    with plug(slot, card) as transport:
        read = ResidenceReader(transport).read(number)
    kind, objects = read.kind, read.objects
    assert kind == ChipKind.residence_card
    assert set(objects) == set(jp.RESIDENCE_OBJECTS)
    assert objects["df1_ef02"].startswith(b"\xd1")
    verdict = VERIFIERS[kind](objects, ANCHORS, dt.datetime.now(dt.UTC)).verdict
    assert verdict == ChipVerdict.verified
    assert number == bytearray()
    # The number never crossed to the card in clear: only as key material and inside the SM cryptogram.
    assert not any(b"XX12345678AB" in a for a in card.apdu_log)


def test_a_wrong_card_number_reads_nothing(slot: tuple[VpcdSlot, list[ViccClient]]) -> None:
    card = build_virtual_residence_card("nguyen_lan")
    with plug(slot, card) as transport:
        with pytest.raises(AccessKeyRejected):
            ResidenceReader(transport).read(bytearray(b"XX12345678AC"))
        assert not any(a[0] == jp.SM_CLA and a[1] == 0xB0 for a in card.apdu_log)


def test_special_permanent_resident_certificate_is_told_apart(
    slot: tuple[VpcdSlot, list[ViccClient]],
) -> None:
    card = build_virtual_residence_card("kim_minjun")
    with plug(slot, card) as transport:
        read = ResidenceReader(transport).read(bytearray(b"XX87654321CD"))
    assert read.kind == ChipKind.special_permanent_resident


def _with_extra_dfs(card: JpFileCard, *aids: bytes) -> JpFileCard:
    for aid in aids:
        card.dfs[aid] = JpDf()
    return card


def test_detection_tells_every_document_and_the_combined_cards(
    slot: tuple[VpcdSlot, list[ViccClient]],
) -> None:
    cases = [
        (build_virtual_licence(), "driving_licence", None),
        (build_virtual_residence_card("kim_minjun"), "special_permanent_resident", None),
        # A 特定在留カード answers the residence card's DFs and the My Number Card's JPKI AP.
        (_with_extra_dfs(build_virtual_residence_card(), jp.JPKI_AID), "residence_card", "tokutei_zairyu"),
        # A マイナ免許証 is a My Number Card with the licence-record AP.
        (
            _with_extra_dfs(build_virtual_licence(), jp.JPKI_AID, jp.MYNA_LICENCE_AID),
            "driving_licence",
            None,
        ),
    ]
    myna_only = build_virtual_licence()
    myna_only.dfs = {b"": JpDf(), jp.JPKI_AID: JpDf(), jp.MYNA_LICENCE_AID: JpDf()}
    cases.append((myna_only, "my_number_card", "myna_licence"))
    vpcd, clients = slot
    for card, kind, combined in cases:
        with plug(slot, card) as transport:
            found = detect_jp_document(transport)
        clients.pop().stop()
        pcsc.wait_for_card_event(vpcd.reader, present=False)
        assert found.kind == kind
        assert found.combined == (jp.COMBINED_CARDS[combined] if combined else None)
        # Detection selects applications by name and reads nothing of a My Number Card.
        assert all(a[1] == 0xA4 or a[:2] == b"\x00\xb0" for a in card.apdu_log)
