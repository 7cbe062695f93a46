"""The counter's passport reader against the virtual passport, in process: BAC, secure messaging, the files.

The secure-messaging code is checked against the worked example of ICAO Doc 9303 part 11 Appendix D.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from clerk_agent.card.idchips.base import ChipAccessDenied, NotThisDocument
from clerk_agent.card.idchips.passport import FILES, MrzAccess, PassportReader
from clerk_agent.card.idchips.sm import SecureMessaging, derive_key, key_seed, mrz_information, retail_mac
from clerk_agent.card.transport import Transport
from clerk_agent.card.virtual.idchips.lds import HOLDERS
from clerk_agent.card.virtual.idchips.passport import DocumentSigner, VirtualPassport, build_passport
from clerk_agent.card.virtual.idchips.slot import InProcessChipSlot
from clerk_agent.flows.idchips import DocumentChips, virtual_chip_source
from service.idchips.devpki import make_issuer, make_signer
from service.wire.idchips import ChipKind

HANAKO = HOLDERS["yamada_hanako"]


@pytest.fixture(scope="module")
def signer() -> DocumentSigner:
    csca = make_issuer("CSCA (test)")
    ds = make_signer(csca, "DS (test)")
    return DocumentSigner(ds.certificate, ds.key)


@pytest.fixture
def passport(signer: DocumentSigner) -> VirtualPassport:
    return build_passport(HANAKO, signer)


def _access(number: str = HANAKO.document_number) -> MrzAccess:
    return MrzAccess(number, HANAKO.birth, HANAKO.expiry_yymmdd)


def test_bac_keys_and_a_protected_select_match_the_icao_worked_example() -> None:
    seed = key_seed(mrz_information("L898902C", "690806", "940623"))
    assert seed.hex().upper() == "239AB9CB282DAF66231DC5A4DF6BFBAE"
    assert derive_key(seed, 1).hex().upper() == "AB94FDECF2674FDFB9B391F85D7F76F2"
    assert derive_key(seed, 2).hex().upper() == "7962D9ECE03D1ACD4C76089DCE131543"
    mac_key = bytes.fromhex("7962D9ECE03D1ACD4C76089DCE131543")
    cryptogram = bytes.fromhex("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
    assert retail_mac(mac_key, cryptogram).hex().upper() == "5F1448EEA8AD90A7"
    session = SecureMessaging.from_bac(
        bytes.fromhex("0B795240CB7049B01C19B33E32804F0B"),
        bytes.fromhex("0B4F80323EB3191CB04970CB4052790B"),
        bytes.fromhex("4608F91988702212"),
        bytes.fromhex("781723860C06C226"),
    )
    assert session.ks_enc.hex().upper() == "979EC13B1CBFE9DCD01AB0FED307EAE5"
    assert session.ks_mac.hex().upper() == "F1CB1F1FB5ADF208806B89DC579DC1F8"
    protected = session.protect(bytes.fromhex("00A4020C"), bytes.fromhex("011E"))
    assert protected.hex().upper() == "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800"


def test_the_reader_reads_every_file_as_built_and_the_readout_carries_no_access_data(
    passport: VirtualPassport,
) -> None:
    read = PassportReader(InProcessChipSlot(passport), _access()).read()
    assert read.kind is ChipKind.passport
    assert {name: read.objects[name] for name in FILES} == {
        name: passport.files[fid] for name, fid in FILES.items()
    }
    # After BAC every command is protected (CLA 0C), so no file id or offset crosses the air in clear. Before it:
    # the look for EF.CardAccess (none: a BAC-only chip), SELECT, GET CHALLENGE, EXTERNAL AUTHENTICATE.
    after_bac = passport.apdu_log[4:]
    assert after_bac
    assert all(apdu[0] == 0x0C for apdu in after_bac)
    upload = read.readout().model_dump_json()
    mrz_key = mrz_information(HANAKO.document_number, HANAKO.birth, HANAKO.expiry_yymmdd)
    assert mrz_key not in upload
    assert base64.b64encode(key_seed(mrz_key)).decode() not in upload
    assert "redacted" in repr(_access())


def test_a_wrong_document_number_is_refused_by_the_chip_before_any_file_is_read(
    passport: VirtualPassport,
) -> None:
    with pytest.raises(ChipAccessDenied) as refused:
        PassportReader(InProcessChipSlot(passport), _access("ZX0412854")).read()
    assert refused.value.refusal == "access_denied"
    assert not any(apdu[0] == 0x0C for apdu in passport.apdu_log)


def test_files_cannot_be_read_without_bac_and_a_broken_mac_ends_the_session(
    passport: VirtualPassport,
) -> None:
    slot = InProcessChipSlot(passport)
    assert slot.transmit(bytes.fromhex("00A4040C07A0000002471001")) == b"\x90\x00"
    assert slot.transmit(bytes.fromhex("00A4020C020101")) == b"\x69\x82"
    reader = PassportReader(slot, _access())
    session = reader._bac()  # the protocol step itself: a session, then one forged command
    forged = bytearray(session.protect(bytes.fromhex("00A4020C"), bytes.fromhex("0101")))
    forged[-3] ^= 0x01  # one bit of the MAC
    assert slot.transmit(bytes(forged)) == b"\x69\x88"
    assert slot.transmit(session.protect(bytes.fromhex("00B00000"), le=4)) == b"\x69\x82"


def test_a_chip_without_the_passport_application_is_not_a_passport(passport: VirtualPassport) -> None:
    passport.reset()

    class Other:
        atr = b"\x3b\x00"

        def transmit(self, apdu: bytes | bytearray) -> bytes:
            return b"\x6a\x82"

    with pytest.raises(NotThisDocument):
        PassportReader(Other(), _access()).read()


class _Case:
    case_id = "case_chip"


class _Client:
    def __init__(self) -> None:
        self.uploads: list[str] = []

    async def submit_chip_readout(self, case_id: str, readout: object) -> object:
        self.uploads.append(case_id)
        raise AssertionError("nothing is uploaded after a refused read")


class _Desk:
    def __init__(self) -> None:
        self.case = _Case()
        self.client = _Client()


async def test_the_counter_flow_names_a_wrong_mrz_and_a_missing_test_pki_and_uploads_nothing(
    passport: VirtualPassport, tmp_path: Path
) -> None:
    desk = _Desk()

    @contextlib.contextmanager
    def source() -> Iterator[Transport]:
        yield InProcessChipSlot(passport)

    chips = DocumentChips(desk, source)  # type: ignore[arg-type]
    refused = await chips.read_passport("zx0412854", HANAKO.birth, HANAKO.expiry_yymmdd)
    assert refused["refusal_reason"] == "access_denied"
    missing = DocumentChips(desk, virtual_chip_source(tmp_path, "yamada_hanako"))  # type: ignore[arg-type]
    assert (await missing.read_passport(HANAKO.document_number, HANAKO.birth, HANAKO.expiry_yymmdd))[
        "refusal_reason"
    ] == "reader_unavailable"
    with pytest.raises(ValueError, match="YYMMDD"):
        await chips.read_passport(HANAKO.document_number, "1985-04-12", HANAKO.expiry_yymmdd)
    assert desk.client.uploads == []
    assert chips.reading is False


def test_the_clerk_screen_names_hub_refusals_and_counter_failures_in_both_languages() -> None:
    from clerk_agent.ui.views import _chip

    class _Flow:
        def __init__(self, reason: str) -> None:
            self.chips = DocumentChips(_Desk(), virtual_chip_source(Path("/nonexistent"), "x"))  # type: ignore[arg-type]
            self.chips.last = {"verdict": "refused", "refusal_reason": reason}

    hub = _chip(_Flow("hash_mismatch"))  # type: ignore[arg-type]
    assert hub["refusal"] == {
        "ja": "データが改ざんされている（ハッシュ不一致）",
        "en": "Data altered (hash mismatch)",
    }
    counter = _chip(_Flow("chip_access_denied"))  # type: ignore[arg-type]
    assert counter["refusal"]["en"].startswith("The chip did not open")  # type: ignore[index]
