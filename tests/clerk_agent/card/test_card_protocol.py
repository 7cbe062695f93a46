"""The card protocol against the in-process virtual card: status words, chunking, PIN safety, removal, no My Number."""

from __future__ import annotations

import hashlib
import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from PIL import Image, ImageFile

from clerk_agent.card import apdu
from clerk_agent.card.images import card_face_pngs, to_png
from clerk_agent.card.protocol import (
    JPKI_AID,
    KENHOJO_AID,
    KENKAKU_AID,
    MyNumberCard,
    PinKind,
    possession_message,
)
from clerk_agent.card.reading import PossessionChallenge, read_at_counter, read_at_counter_async
from clerk_agent.card.virtual.build import person
from clerk_agent.card.virtual.card import ElementaryFile, VirtualMyNumberCard
from clerk_agent.card.virtual.cardface import rsa_public_key_field
from clerk_agent.card.virtual.transport import InProcessTransport
from clerk_agent.errors import (
    ApduFailed,
    CardAbsent,
    CardDataMalformed,
    CardRemoved,
    CodeBIncorrect,
    ForbiddenFileAccess,
    InvalidPinFormat,
    LastTryConfirmationRequired,
    NotMyNumberCard,
    PinBlocked,
    PinIncorrect,
)
from service.cardproof.verify import signed_bytes_for
from service.wire.card_profiles import NEXT, CardGeneration
from tests.images import png_bomb
from tests.plugins.cardkit import DER, GENERATIONS, card_face_code, issued_card, make_card, rsa_key

HANAKO = person("yamada_hanako")
CHALLENGE = PossessionChallenge("https://hub.madoguchi.test", "bm9uY2UtMjU2LWJpdHM", "case_0001")
AUTH_KEY = 0x0018


def secret(text: str) -> bytearray:
    """A PIN buffer as the agent's local API would hold it."""
    return bytearray(text.encode())


def commands(card: VirtualMyNumberCard, ins: int) -> list[bytes]:
    """Every APDU with instruction `ins` the card received."""
    return [a for a in card.apdu_log if a[1] == ins]


class ScriptedTransport:
    """Wraps a transport and replaces the answer to the first command matching a prefix."""

    def __init__(self, inner: InProcessTransport, prefix: bytes, answer: bytes) -> None:
        self.inner, self.prefix, self.answer = inner, prefix, answer

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def transmit(self, command: bytes | bytearray) -> bytes:
        if bytes(command).startswith(self.prefix):
            return self.answer
        return self.inner.transmit(command)


# --- the whole read -----------------------------------------------------------------------------------


def test_counter_read_returns_card_material_and_a_valid_possession_signature(
    card: MyNumberCard, hanako_card: VirtualMyNumberCard
) -> None:
    result = read_at_counter(
        card, auth_pin=secret(HANAKO.auth_pin), code_b=secret(HANAKO.code_b), challenge=CHALLENGE
    )
    issued = issued_card("yamada_hanako")
    assert result.auth_certificate == issued.auth_certificate.public_bytes(DER)
    assert result.auth_ca_certificate == issued.auth_ca.public_bytes(DER)
    key = x509.load_der_x509_certificate(result.auth_certificate).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    message = possession_message(CHALLENGE.origin, CHALLENGE.nonce, CHALLENGE.case_id)
    key.verify(result.signature, message, padding.PKCS1v15(), hashes.SHA256())
    assert result.pin_statuses[PinKind.JPKI_AUTH].retries_left == 3
    assert result.pin_statuses[PinKind.JPKI_SIGN].retries_left == 5
    assert result.pin_statuses[PinKind.KENHOJO_PIN].retries_left == 3
    assert result.pin_statuses[PinKind.KENKAKU_CODE_B].retries_left == 10
    assert result.card_face is not None
    assert (result.card_face.birth_date, result.card_face.sex, result.card_face.expiry) == (
        "19850412",
        "2",
        "20340412",
    )
    # The card-face AP answered the same challenge with the key written in the face (DF24).
    assert result.card_face_signature is not None
    face_key = rsa_key(issued.card_face_key).public_key()
    assert result.card_face.card_public_key == rsa_public_key_field(face_key)
    face_key.verify(result.card_face_signature, message, padding.PKCS1v15(), hashes.SHA256())
    assert result.atr == hanako_card.atr
    assert result.apdu_count == len(hanako_card.apdu_log)


def test_possession_message_matches_what_the_hub_rebuilds() -> None:
    agent_side = possession_message("https://hub.example", "nonce-1", "case_9")
    assert agent_side == signed_bytes_for("https://hub.example", "nonce-1", "case_9")
    assert agent_side[:32] == hashlib.sha256(b"https://hub.example").digest()
    assert agent_side != possession_message("https://hub.example", "nonce-1", "case_8")


def test_select_ef_forms_give_the_same_result_with_more_apdus(hanako_card: VirtualMyNumberCard) -> None:
    short = read_at_counter(
        MyNumberCard(InProcessTransport(hanako_card)),
        auth_pin=secret(HANAKO.auth_pin),
        code_b=secret(HANAKO.code_b),
        challenge=CHALLENGE,
    )
    long = read_at_counter(
        MyNumberCard(InProcessTransport(hanako_card), short_ef_ids=False),
        auth_pin=secret(HANAKO.auth_pin),
        code_b=secret(HANAKO.code_b),
        challenge=CHALLENGE,
    )
    assert long.auth_certificate == short.auth_certificate
    assert long.card_face == short.card_face
    # One SELECT EF saved per file read and per key reference used.
    assert short.apdu_count < long.apdu_count


def test_a_card_without_short_ef_ids_is_read_through_select_ef() -> None:
    old_style = make_card(short_ef_ids=False)
    protocol = MyNumberCard(InProcessTransport(old_style))
    result = read_at_counter(
        protocol, auth_pin=secret(HANAKO.auth_pin), code_b=secret(HANAKO.code_b), challenge=CHALLENGE
    )
    assert protocol.short_ef_ids is False
    assert result.card_face is not None
    # Exactly one rejected short-EF-id attempt (6A86) before switching.
    rejected = [a for a in old_style.apdu_log if a[1] == 0xB0 and a[2] & 0x80]
    assert len(rejected) == 1


async def test_async_read_runs_in_a_worker_thread(card: MyNumberCard) -> None:
    result = await read_at_counter_async(card, auth_pin=secret(HANAKO.auth_pin), challenge=CHALLENGE)
    assert result.card_face is None
    assert result.card_face_signature is None
    assert result.pin_statuses[PinKind.KENKAKU_CODE_B].retries_left == 10


def test_card_face_images_decode_to_png(card: MyNumberCard) -> None:
    card.verify_card_face_code(secret(HANAKO.code_b))
    pngs = card_face_pngs(card.read_card_face())
    with Image.open(io.BytesIO(pngs.photo)) as photo:
        assert (photo.format, photo.mode, photo.size) == ("PNG", "L", (120, 150))
    for image in (pngs.name, pngs.address):
        assert image.startswith(b"\x89PNG\r\n\x1a\n")


# --- status words (docs/card.md §1.7) ---------------------------------------------------------


def test_6a82_a_card_without_the_kenkaku_ap(hanako_card: VirtualMyNumberCard) -> None:
    del hanako_card.applications[KENKAKU_AID]
    protocol = MyNumberCard(InProcessTransport(hanako_card))
    with pytest.raises(ApduFailed) as raised:
        protocol.verify_card_face_code(secret(HANAKO.code_b))
    assert raised.value.sw == 0x6A82


def test_6a82_no_jpki_application_is_not_a_my_number_card(hanako_card: VirtualMyNumberCard) -> None:
    del hanako_card.applications[JPKI_AID]
    with pytest.raises(NotMyNumberCard, match="6A82"):
        MyNumberCard(InProcessTransport(hanako_card)).detect()


def test_a_smartphone_jpki_token_is_not_a_my_number_card(hanako_card: VirtualMyNumberCard) -> None:
    hanako_card.file(JPKI_AID, 0x0006).data = b"JPKIAPGPSETOKEN".ljust(32) + bytes(128)
    with pytest.raises(NotMyNumberCard, match="JPKIAPGPSETOKEN"):
        MyNumberCard(InProcessTransport(hanako_card)).detect()


def test_detect_accepts_the_my_number_card_token(card: MyNumberCard) -> None:
    assert card.detect() == b"JPKIAPICCTOKEN2"


def test_6982_signing_before_the_pin(card: MyNumberCard, hanako_card: VirtualMyNumberCard) -> None:
    with pytest.raises(ApduFailed) as raised:
        card.sign_auth(b"challenge")
    assert raised.value.sw == 0x6982
    assert commands(hanako_card, 0x2A), "the card was asked and refused"


def test_6982_card_face_before_code_b(card: MyNumberCard) -> None:
    with pytest.raises(ApduFailed) as raised:
        card.read_card_face()
    assert raised.value.sw == 0x6982


def test_63cx_wrong_pin_counts_down_and_a_right_pin_restores(
    card: MyNumberCard, hanako_card: VirtualMyNumberCard
) -> None:
    with pytest.raises(PinIncorrect) as raised:
        card.verify_auth_pin(secret("0000"))
    assert raised.value.retries_left == 2
    assert hanako_card.key(JPKI_AID, AUTH_KEY).tries_left == 2
    assert card.pin_status(PinKind.JPKI_AUTH).retries_left == 2
    before = card.verify_auth_pin(secret(HANAKO.auth_pin))
    assert before.retries_left == 2
    assert hanako_card.key(JPKI_AID, AUTH_KEY).tries_left == 3


def test_6984_blocked_pin_is_refused_without_sending_it(
    card: MyNumberCard, hanako_card: VirtualMyNumberCard
) -> None:
    hanako_card.key(JPKI_AID, AUTH_KEY).tries_left = 0
    assert card.pin_status(PinKind.JPKI_AUTH).blocked
    with pytest.raises(PinBlocked):
        card.verify_auth_pin(secret(HANAKO.auth_pin))
    assert all(len(a) == 4 for a in commands(hanako_card, 0x20)), "no VERIFY carried the PIN"
    # The card itself answers 6984 to a VERIFY with data once blocked.
    assert hanako_card.process(bytes.fromhex("0020009804") + HANAKO.auth_pin.encode())[-2:] == b"\x69\x84"


def test_6984_from_the_card_during_verify_means_blocked(slot: InProcessTransport) -> None:
    scripted = ScriptedTransport(slot, bytes.fromhex("0020009804"), b"\x69\x84")
    with pytest.raises(PinBlocked):
        MyNumberCard(scripted).verify_auth_pin(secret(HANAKO.auth_pin))


def test_third_wrong_pin_blocks(card: MyNumberCard, hanako_card: VirtualMyNumberCard) -> None:
    with pytest.raises(PinIncorrect):
        card.verify_auth_pin(secret("0000"))
    with pytest.raises(PinIncorrect):
        card.verify_auth_pin(secret("0001"))
    # The last try needs the clerk's confirmation; with it, a wrong PIN blocks the card.
    with pytest.raises(PinBlocked):
        card.verify_auth_pin(secret("0002"), confirm_last_try=True)
    assert hanako_card.key(JPKI_AID, AUTH_KEY).tries_left == 0


def test_6a86_answer_to_signing_is_reported(slot: InProcessTransport) -> None:
    protocol = MyNumberCard(slot, short_ef_ids=False)
    protocol.verify_auth_pin(secret(HANAKO.auth_pin))
    scripted = ScriptedTransport(slot, bytes.fromhex("802a0080"), b"\x6a\x86")
    protocol.transport = scripted
    with pytest.raises(ApduFailed) as raised:
        protocol.sign_auth(b"challenge")
    assert raised.value.sw == 0x6A86


def test_6a86_from_the_emulator_for_bad_p1_p2(hanako_card: VirtualMyNumberCard) -> None:
    assert hanako_card.process(bytes.fromhex("00a4ffff00"))[-2:] == b"\x6a\x86"
    hanako_card.process(apdu.select_df(JPKI_AID).encode())
    assert hanako_card.process(bytes.fromhex("802a01970401020304"))[-2:] == b"\x6a\x86"


def test_6700_wrong_length(slot: InProcessTransport, hanako_card: VirtualMyNumberCard) -> None:
    # Lc says 10 bytes, 3 follow.
    assert hanako_card.process(bytes.fromhex("00a4040c0ad392f0"))[-2:] == b"\x67\x00"
    scripted = ScriptedTransport(slot, bytes.fromhex("00b08a"), b"\x67\x00")
    with pytest.raises(ApduFailed) as raised:
        MyNumberCard(scripted).read_auth_certificate()
    assert raised.value.sw == 0x6700


# --- chunked READ BINARY ------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "reads"), [(255, 1), (256, 1), (257, 2), (2048, 8)])
def test_certificate_chunk_boundaries(hanako_card: VirtualMyNumberCard, size: int, reads: int) -> None:
    body = bytes((i * 7) % 251 for i in range(size - 4))
    blob = b"\x30\x82" + len(body).to_bytes(2, "big") + body
    hanako_card.file(JPKI_AID, 0x000A).data = blob
    protocol = MyNumberCard(InProcessTransport(hanako_card))
    assert protocol.read_auth_certificate() == blob
    assert len(commands(hanako_card, 0xB0)) == reads


def test_extended_length_reads_the_card_face_in_one_apdu(
    card: MyNumberCard, hanako_card: VirtualMyNumberCard
) -> None:
    card.verify_card_face_code(secret(HANAKO.code_b))
    short_face = card.read_card_face()
    short_reads = len(commands(hanako_card, 0xB0))
    extended = MyNumberCard(card.transport, max_chunk=0xFF00)
    assert extended.read_card_face() == short_face
    assert len(commands(hanako_card, 0xB0)) - short_reads == 1
    assert short_reads > 5


def test_a_truncated_file_is_reported_not_padded(hanako_card: VirtualMyNumberCard) -> None:
    hanako_card.file(JPKI_AID, 0x000A).data = b"\x30\x82\x04\x00" + bytes(300)
    hanako_card.file(JPKI_AID, 0x000A).capacity = None
    with pytest.raises(ApduFailed) as raised:
        MyNumberCard(InProcessTransport(hanako_card)).read_auth_certificate()
    assert raised.value.sw == 0x6B00  # offset past the end of the EF


def test_removal_mid_read_raises_card_removed_and_forgets_the_selection(
    slot: InProcessTransport, hanako_card: VirtualMyNumberCard
) -> None:
    protocol = MyNumberCard(slot)
    protocol.detect()
    slot.remove_after(2)
    with pytest.raises(CardRemoved):
        protocol.read_auth_certificate()
    with pytest.raises(CardRemoved):
        protocol.read_auth_certificate()
    slot.insert(hanako_card)
    log_start = len(hanako_card.apdu_log)
    assert protocol.read_auth_certificate() == issued_card("yamada_hanako").auth_certificate.public_bytes(DER)
    # After the removal the protocol must not assume the JPKI AP is still selected.
    assert hanako_card.apdu_log[log_start] == apdu.select_df(JPKI_AID).encode()


def test_no_card_is_card_absent() -> None:
    with pytest.raises(CardAbsent):
        MyNumberCard(InProcessTransport()).detect()


def test_power_cycle_drops_a_verified_pin(slot: InProcessTransport, hanako_card: VirtualMyNumberCard) -> None:
    protocol = MyNumberCard(slot)
    protocol.verify_auth_pin(secret(HANAKO.auth_pin))
    protocol.sign_auth(b"first")
    slot.remove()
    slot.insert(hanako_card)
    protocol.forget_selection()
    with pytest.raises(ApduFailed) as raised:
        protocol.sign_auth(b"second")
    assert raised.value.sw == 0x6982


# --- PIN safety ---------------------------------------------------------------------------------------


def test_last_try_is_refused_without_confirmation(
    card: MyNumberCard, hanako_card: VirtualMyNumberCard
) -> None:
    hanako_card.key(JPKI_AID, AUTH_KEY).tries_left = 1
    pin = secret(HANAKO.auth_pin)
    with pytest.raises(LastTryConfirmationRequired) as raised:
        card.verify_auth_pin(pin)
    assert "残り1回です。市区町村窓口での初期化が必要になる前に" in str(raised.value)
    assert "One try left" in str(raised.value)
    assert raised.value.retriable
    assert hanako_card.key(JPKI_AID, AUTH_KEY).tries_left == 1
    assert all(len(a) == 4 for a in commands(hanako_card, 0x20))
    assert pin == bytearray(4)


def test_last_try_with_confirmation_verifies(card: MyNumberCard, hanako_card: VirtualMyNumberCard) -> None:
    hanako_card.key(JPKI_AID, AUTH_KEY).tries_left = 1
    status = card.verify_auth_pin(secret(HANAKO.auth_pin), confirm_last_try=True)
    assert status.retries_left == 1
    assert hanako_card.key(JPKI_AID, AUTH_KEY).tries_left == 3


def test_retries_are_read_without_spending_a_try(
    card: MyNumberCard, hanako_card: VirtualMyNumberCard
) -> None:
    for _ in range(5):
        statuses = card.pin_statuses()
    assert {k: s.retries_left for k, s in statuses.items()} == {
        PinKind.JPKI_AUTH: 3,
        PinKind.JPKI_SIGN: 5,
        PinKind.KENHOJO_PIN: 3,
        PinKind.KENKAKU_CODE_B: 10,
    }
    assert hanako_card.key(KENHOJO_AID, 0x0011).tries_left == 3
    assert hanako_card.key(JPKI_AID, 0x001B).tries_left == 5


@pytest.mark.parametrize(
    ("entered", "error"),
    [
        (HANAKO.auth_pin, None),
        ("0000", PinIncorrect),
        ("12a4", InvalidPinFormat),
        ("12345", InvalidPinFormat),
    ],
)
def test_pin_buffer_is_wiped_whatever_happens(
    card: MyNumberCard, entered: str, error: type[Exception] | None
) -> None:
    pin = secret(entered)
    if error is None:
        card.verify_auth_pin(pin)
    else:
        with pytest.raises(error):
            card.verify_auth_pin(pin)
    assert pin == bytearray(len(entered))


def test_pin_buffer_is_wiped_when_the_card_leaves_during_verify(slot: InProcessTransport) -> None:
    protocol = MyNumberCard(slot)
    pin = secret(HANAKO.auth_pin)
    slot.remove_after(2)  # SELECT DF and the retry query pass; the VERIFY meets an empty slot
    with pytest.raises(CardRemoved):
        protocol.verify_auth_pin(pin)
    assert pin == bytearray(4)


def test_counter_read_wipes_both_secrets_on_early_failure(hanako_card: VirtualMyNumberCard) -> None:
    del hanako_card.applications[JPKI_AID]
    pin, code_b = secret(HANAKO.auth_pin), secret(HANAKO.code_b)
    with pytest.raises(NotMyNumberCard):
        read_at_counter(
            MyNumberCard(InProcessTransport(hanako_card)), auth_pin=pin, code_b=code_b, challenge=CHALLENGE
        )
    assert pin == bytearray(4)
    assert code_b == bytearray(14)


def test_wrong_code_b_counts_down_on_kenkaku(card: MyNumberCard, hanako_card: VirtualMyNumberCard) -> None:
    """Its own error (code_b_incorrect), never the PIN's: failed before, when it was reported as a wrong PIN."""
    with pytest.raises(CodeBIncorrect) as raised:
        card.verify_card_face_code(secret("00000000000000"))
    assert raised.value.retries_left == 9
    assert raised.value.code == "code_b_incorrect"
    assert hanako_card.key(KENKAKU_AID, 0x0012).tries_left == 9


class PinPadSlot(InProcessTransport):
    """A reader with a keypad: the 'applicant' types the PIN on the reader, never into the PC."""

    def __init__(self, card: VirtualMyNumberCard, typed: str) -> None:
        super().__init__(card)
        self.typed = typed
        self.requests: list[tuple[bytes, int]] = []

    @property
    def has_pinpad(self) -> bool:
        return True

    def verify_pin_direct(self, verify_header: bytes, pin_length: int) -> bytes:
        self.requests.append((verify_header, pin_length))
        return self.transmit(verify_header + bytes((pin_length,)) + self.typed.encode())[-2:]


def test_pinpad_reader_takes_the_pin(hanako_card: VirtualMyNumberCard) -> None:
    reader = PinPadSlot(hanako_card, HANAKO.auth_pin)
    protocol = MyNumberCard(reader)
    typed_on_pc = secret("9999")
    protocol.verify_auth_pin(typed_on_pc)
    assert reader.requests == [(bytes.fromhex("00200098"), 4)]
    assert typed_on_pc == bytearray(4), "a PIN given anyway is wiped, not sent"
    assert not any(a.endswith(b"9999") for a in hanako_card.apdu_log)
    protocol.sign_auth(b"signed after a PIN-pad VERIFY")


def test_no_pin_and_no_pinpad_is_refused(card: MyNumberCard) -> None:
    with pytest.raises(InvalidPinFormat, match="PIN pad"):
        card.verify_auth_pin(None)


# --- the My Number is out of reach ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aid", "fid"),
    [
        (KENHOJO_AID, 0x0001),
        (KENHOJO_AID, 0x0003),
        (KENKAKU_AID, 0x0005),
        # The next-generation card-face AP's number, as text and as an image (docs/card.md §3.2).
        (NEXT.card_face_aid, 0x0001),
        (NEXT.card_face_aid, 0x0005),
    ],
)
def test_protocol_refuses_the_my_number_files_before_sending_anything(
    card: MyNumberCard, hanako_card: VirtualMyNumberCard, aid: bytes, fid: int
) -> None:
    with pytest.raises(ForbiddenFileAccess):
        card.read_file(aid, fid)
    with pytest.raises(ForbiddenFileAccess):
        card.read_file(aid, fid, length=17)
    assert hanako_card.apdu_log == []


def test_emulator_reports_every_my_number_access(local_violations: list[str]) -> None:
    probe = make_card(violation_sink=local_violations.append)
    probe.process(apdu.select_df(KENHOJO_AID).encode())
    probe.process(apdu.select_ef(0x0001).encode())
    probe.process(apdu.select_df(KENKAKU_AID).encode())
    probe.process(apdu.read_binary_sfi(0x05, 0, 256).encode())
    probe.process(bytes.fromhex("002000930c") + HANAKO.my_number.encode())
    assert len(local_violations) == 3
    assert "EF 0001" in local_violations[0]
    assert "EF 0005" in local_violations[1]
    assert "照合番号A" in local_violations[2]
    # And the number itself never appears in a report.
    assert not any(HANAKO.my_number in v for v in local_violations)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_a_full_read_touches_no_my_number_file(
    local_violations: list[str], generation: CardGeneration
) -> None:
    watched = make_card(violation_sink=local_violations.append, generation=generation)
    read = read_at_counter(
        MyNumberCard(InProcessTransport(watched), short_ef_ids=False),
        auth_pin=secret(HANAKO.auth_pin),
        code_b=secret(card_face_code("yamada_hanako", generation)),
        challenge=CHALLENGE,
    )
    assert read.generation is generation
    assert local_violations == []
    assert not any(HANAKO.my_number.encode() in a for a in watched.apdu_log)


def test_the_emulator_would_serve_the_number_if_asked(hanako_card: VirtualMyNumberCard) -> None:
    # Guards the guard: the file is really there (so "never read" is a property of our code, not of an empty card).
    assert hanako_card.file(KENHOJO_AID, 0x0001).data[3:15] == HANAKO.my_number.encode()
    assert isinstance(hanako_card.file(KENKAKU_AID, 0x0005), ElementaryFile)


def test_a_card_image_declaring_a_huge_size_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Old code: the counter decoded whatever size the card's image declared (25 MB of pixels here) and took it."""
    decoded: list[object] = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda image: decoded.append(image))
    with pytest.raises(CardDataMalformed, match="5000×5000"):
        to_png(png_bomb(5_000, 5_000), "face photo")
    assert decoded == []
