"""The next-generation card (docs/card.md §3) against the agent's card layer, in process: detection, two
applications, two PINs, the printed 照合番号, ECDSA P-384 signatures, and the My Number still out of reach."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from clerk_agent.card import apdu
from clerk_agent.card.protocol import MyNumberCard, PinKind, possession_message
from clerk_agent.card.reading import PossessionChallenge, read_at_counter
from clerk_agent.card.virtual.build import person
from clerk_agent.card.virtual.card import VirtualMyNumberCard
from clerk_agent.card.virtual.nextgen import ec_public_key_field, printed_card_face_code
from clerk_agent.card.virtual.transport import InProcessTransport
from clerk_agent.errors import ApduFailed, CodeBIncorrect, NotMyNumberCard
from service.wire.card_profiles import CURRENT, NEXT, CardGeneration
from tests.plugins.cardkit import DER, issued_card, make_card

HANAKO = person("yamada_hanako")
CHALLENGE = PossessionChallenge("https://hub.madoguchi.test", "bmV4dC1jYXJk", "case_next")
CODE = printed_card_face_code(HANAKO)


@pytest.fixture
def next_card() -> VirtualMyNumberCard:
    return make_card("yamada_hanako", generation=CardGeneration.GEN2028)


def verify_p384(public: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> None:
    """Raise unless `signature` (r ‖ s) is P-384 ECDSA over SHA-384(message)."""
    assert len(signature) == 96
    der = utils.encode_dss_signature(
        int.from_bytes(signature[:48], "big"), int.from_bytes(signature[48:], "big")
    )
    public.verify(der, message, ec.ECDSA(hashes.SHA384()))


def test_the_card_has_two_applications_and_no_current_one(next_card: VirtualMyNumberCard) -> None:
    assert set(next_card.applications) == {NEXT.auth_aid, NEXT.card_face_aid}
    assert CURRENT.auth_aid not in next_card.applications


def test_detect_finds_the_next_generation_after_trying_the_current_card(
    next_card: VirtualMyNumberCard,
) -> None:
    card = MyNumberCard(InProcessTransport(next_card))
    assert card.generation.value == "gen2016"  # until detected
    assert card.detect() == NEXT.token_label
    assert card.generation is CardGeneration.GEN2028
    selects = [a for a in next_card.apdu_log if a[1] == 0xA4 and a[2] == 0x04]
    assert [s[5:] for s in selects] == [CURRENT.auth_aid, NEXT.auth_aid]
    assert card.pin_kinds() == (PinKind.JPKI_AUTH, PinKind.JPKI_SIGN, PinKind.KENKAKU_CODE_B)


def test_a_wrong_token_in_the_next_ap_is_not_a_my_number_card(next_card: VirtualMyNumberCard) -> None:
    next_card.file(NEXT.auth_aid, NEXT.ef_token).data = b"SOMEOTHERTOKEN".ljust(32) + bytes(128)
    with pytest.raises(NotMyNumberCard, match="SOMEOTHERTOKEN"):
        MyNumberCard(InProcessTransport(next_card)).detect()


@pytest.mark.parametrize("short_ef_ids", [True, False])
def test_the_counter_read_gives_p384_signatures_and_two_pins(
    next_card: VirtualMyNumberCard, short_ef_ids: bool
) -> None:
    result = read_at_counter(
        MyNumberCard(InProcessTransport(next_card), short_ef_ids=short_ef_ids),
        auth_pin=bytearray(HANAKO.auth_pin.encode()),
        code_b=bytearray(CODE.encode()),
        challenge=CHALLENGE,
    )
    issued = issued_card("yamada_hanako", "next")
    assert result.generation is CardGeneration.GEN2028
    assert result.auth_certificate == issued.auth_certificate.public_bytes(DER)
    certificate = x509.load_der_x509_certificate(result.auth_certificate)
    key = certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert isinstance(key.curve, ec.SECP384R1)
    assert isinstance(certificate.signature_hash_algorithm, hashes.SHA384)
    message = possession_message(CHALLENGE.origin, CHALLENGE.nonce, CHALLENGE.case_id)
    verify_p384(key, result.signature, message)
    # Two PINs and the card-face code; no 券面事項入力補助 PIN on this card.
    assert set(result.pin_statuses) == {PinKind.JPKI_AUTH, PinKind.JPKI_SIGN, PinKind.KENKAKU_CODE_B}
    assert result.pin_statuses[PinKind.JPKI_AUTH].retries_left == 3
    assert result.pin_statuses[PinKind.JPKI_SIGN].retries_left == 5
    face = result.card_face
    assert face is not None
    assert (face.birth_date, face.sex, face.expiry) == (
        "19850412",
        "",
        "20340512",
    )  # no sex; a birthday + 1 month
    face_key = issued.card_face_key.public_key()
    assert isinstance(face_key, ec.EllipticCurvePublicKey)
    assert face.card_public_key == ec_public_key_field(face_key)
    assert result.card_face_signature is not None
    verify_p384(face_key, result.card_face_signature, message)
    assert not any(HANAKO.my_number.encode() in a for a in next_card.apdu_log)


def test_the_printed_code_opens_the_face_and_a_wrong_one_counts_down(next_card: VirtualMyNumberCard) -> None:
    card = MyNumberCard(InProcessTransport(next_card))
    card.detect()
    assert len(CODE) == NEXT.card_face_code.max_length
    assert HANAKO.code_b != CODE
    with pytest.raises(CodeBIncorrect) as raised:
        card.verify_card_face_code(bytearray(HANAKO.code_b.encode()))  # 照合番号B is not this card's code
    assert raised.value.retries_left == 9
    card.verify_card_face_code(bytearray(CODE.encode()))
    assert next_card.key(NEXT.card_face_aid, NEXT.card_face_code.key_fid).tries_left == 10
    assert card.read_card_face().birth_date == "19850412"


def test_signing_needs_the_pin_and_takes_only_a_sha384_hash(next_card: VirtualMyNumberCard) -> None:
    card = MyNumberCard(InProcessTransport(next_card))
    card.detect()
    with pytest.raises(ApduFailed) as raised:
        card.sign_auth(b"before the PIN")
    assert raised.value.sw == 0x6982
    card.verify_auth_pin(bytearray(HANAKO.auth_pin.encode()))
    # A current card's DigestInfo is not a SHA-384 hash: the P-384 key refuses it.
    digest_info = apdu.sha256_digest_info(hashlib.sha256(b"x").digest())
    answer = next_card.process(apdu.compute_signature(digest_info, 0x80 | NEXT.ef_auth_key).encode())
    assert answer[-2:] == b"\x67\x00"
    assert len(card.sign_auth(b"after the PIN")) == 96


def test_the_emulator_reports_a_next_generation_my_number_access(local_violations: list[str]) -> None:
    probe = make_card(violation_sink=local_violations.append, generation=CardGeneration.GEN2028)
    probe.process(apdu.select_df(NEXT.card_face_aid).encode())
    probe.process(apdu.select_ef(0x0001).encode())
    probe.process(apdu.read_binary_sfi(0x05, 0, 256).encode())
    assert len(local_violations) == 2
    assert "EF 0001" in local_violations[0]
    assert "EF 0005" in local_violations[1]
    # The number is really there: "never read" is a property of the agent, not of an empty card.
    assert probe.file(NEXT.card_face_aid, 0x0001).data[3:15] == HANAKO.my_number.encode()


def test_a_pin_change_goes_to_the_next_generation_cards_own_key(next_card: VirtualMyNumberCard) -> None:
    """CHANGE REFERENCE DATA follows the detected profile's key (MyNumberCard.key_of), not the current card's ids
    (a reader without short EF ids selects the key's application and file by name first)."""
    card = MyNumberCard(InProcessTransport(next_card), short_ef_ids=False)
    card.detect()
    card.change_pin(PinKind.JPKI_AUTH, bytearray(HANAKO.auth_pin.encode()), bytearray(b"9406"))
    next_card.reset()
    again = MyNumberCard(InProcessTransport(next_card))
    again.detect()
    again.verify_auth_pin(bytearray(b"9406"))
