"""PACE with the generic mapping (clerk_agent/card/idchips/pace.py): the pieces against ICAO 9303 part 11's worked
examples, then the counter's reader against the virtual passport that offers it.

The worked examples (9303 part 11, eighth edition, appendices on PACE) give the MRZ password's K_π and the nonce of
the generic mapping example, and, for brainpoolP256r1, a key agreement with its session keys and tokens (from the
integrated mapping example, whose key agreement and tokens are the same computation as the generic mapping's).
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from ecdsa.curves import BRAINPOOLP256r1

from clerk_agent.card.idchips import pace
from clerk_agent.card.idchips.base import ChipAccessDenied
from clerk_agent.card.idchips.passport import FILES, MrzAccess, PassportReader
from clerk_agent.card.idchips.sm import AesSecureMessaging
from clerk_agent.card.virtual.idchips.lds import HOLDERS
from clerk_agent.card.virtual.idchips.passport import DocumentSigner, VirtualPassport, build_passport
from clerk_agent.card.virtual.idchips.slot import InProcessChipSlot
from service.idchips.devpki import make_issuer, make_signer

HANAKO = HOLDERS["yamada_hanako"]
# id-PACE-ECDH-IM-AES-CBC-CMAC-128, the protocol the worked example's tokens were computed for.
ECDH_IM_AES_128 = bytes.fromhex("04007F00070202040402")


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def test_the_mrz_password_and_the_nonce_match_the_worked_example() -> None:
    key = pace.password_key("T22000129364081251010318")
    assert bytes(key) == _hex("89DED1B26624EC1E634C1989302849DD")
    decryptor = Cipher(algorithms.AES(bytes(key)), modes.CBC(bytes(16))).decryptor()
    nonce = decryptor.update(_hex("854D8DF5827FA6852D1A4FA701CDDDCA")) + decryptor.finalize()
    assert nonce == _hex("FA5B7E3E49753A0DB9178B7B9BD898C8")


def test_key_agreement_session_keys_and_tokens_match_the_worked_example() -> None:
    curve = BRAINPOOLP256r1
    mapped = pace.point_from(
        curve,
        _hex(
            "048E82D31559ED0FDE92A4D0498ADD3C23BABA94FB77691E31E90AEA77FB17D427"
            "4C1AE14BD0C3DBAC0C871B7F3608169364437CA30AC243A089D3F266C1E60FAD"
        ),
    )
    terminal_private = int.from_bytes(
        _hex("A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595"), "big"
    )
    terminal = pace.encode_point(mapped * terminal_private)
    assert terminal == _hex(
        "0489CBA23FFE96AA18D824627C3E934E54A9FD0B87A95D1471DC1C0ABFDCD640D4"
        "6755DE9B7B778280B6BEBD57439ADFEB0E21FD4ED6DF42578C13418A59B34C37"
    )
    chip = _hex(
        "0467F78E5F7F7686082B293E8D087E056916D0F74BC01A5F8957D0DE45691E51E8"
        "932B69A962B52A0985AD2C0A271EE6A13A8ADDDCD1A3A994B9DED257F4D22753"
    )
    shared = pace.shared_secret(curve, terminal_private, pace.point_from(curve, chip))
    assert shared == _hex("4F150FDE1D4F0E38E95017B891BAE17133A0DF45B0D3E18B60BA7BEAFDC2C713")
    ks_enc, ks_mac = pace.kdf(shared, pace.ENC), pace.kdf(shared, pace.MAC)
    assert ks_enc == _hex("0D3FEB33251A6370893D62AE8DAAF51B")
    assert ks_mac == _hex("B01E89E3D9E8719E586B50B4A7506E0B")
    assert pace.token(ks_mac, ECDH_IM_AES_128, chip) == _hex("450F02B86F6A0909")
    assert pace.token(ks_mac, ECDH_IM_AES_128, terminal) == _hex("75D4D96E8D5B0308")


def test_points_off_the_curve_and_malformed_card_access_are_refused() -> None:
    curve = BRAINPOOLP256r1
    good = pace.encode_point(curve.generator * 7)
    off = good[:-1] + bytes([good[-1] ^ 1])
    with pytest.raises(pace.PaceError):
        pace.point_from(curve, off)
    with pytest.raises(pace.PaceError):
        pace.point_from(curve, good[:-1])
    assert pace.parse_card_access(pace.card_access(13)) == [pace.PaceInfo(pace.PACE_ECDH_GM_AES_128, 2, 13)]
    with pytest.raises(pace.PaceError):
        pace.parse_card_access(pace.card_access(13)[:-2])


@pytest.fixture(scope="module")
def signer() -> DocumentSigner:
    csca = make_issuer("CSCA (test)")
    ds = make_signer(csca, "DS (test)")
    return DocumentSigner(ds.certificate, ds.key)


def _access(number: str = HANAKO.document_number) -> MrzAccess:
    return MrzAccess(number, HANAKO.birth, HANAKO.expiry_yymmdd)


@pytest.mark.parametrize("parameter_id", [12, 13])
def test_a_passport_offering_pace_is_read_under_pace_with_aes_secure_messaging(
    signer: DocumentSigner, parameter_id: int
) -> None:
    passport = build_passport(HANAKO, signer, pace_parameter_id=parameter_id)
    reader = PassportReader(InProcessChipSlot(passport), _access())
    read = reader.read()
    assert reader.protocol == "PACE"
    assert {name: read.objects[name] for name in FILES} == {
        name: passport.files[fid] for name, fid in FILES.items()
    }
    # EF.CardAccess, MSE:Set AT and the four GENERAL AUTHENTICATE steps in plain; then only protected commands,
    # the application selected among them; BAC was never tried.
    plain = [apdu for apdu in passport.apdu_log if apdu[0] & 0x0C != 0x0C]
    assert [apdu[1] for apdu in plain] == [0xB0, 0x22, 0x86, 0x86, 0x86, 0x86]
    assert isinstance(passport._session, AesSecureMessaging)  # which session the chip holds


def test_a_wrong_mrz_fails_pace_at_the_tokens_and_no_file_is_read(signer: DocumentSigner) -> None:
    passport = build_passport(HANAKO, signer, pace_parameter_id=13)
    with pytest.raises(ChipAccessDenied) as refused:
        PassportReader(InProcessChipSlot(passport), _access("ZX0412854")).read()
    assert refused.value.refusal == "access_denied"
    assert not any(apdu[0] & 0x0C == 0x0C for apdu in passport.apdu_log)
    # BAC was not tried behind PACE's back: a wrong key is wrong for both.
    assert not any(apdu[1] == 0x82 for apdu in passport.apdu_log)


def test_a_chip_whose_pace_breaks_is_read_with_bac(signer: DocumentSigner) -> None:
    passport = build_passport(HANAKO, signer, pace_parameter_id=13)

    class BrokenPace(VirtualPassport):
        def process(self, apdu: bytes) -> bytes:
            if apdu[1] == 0x86 and b"\x81" in apdu[5:8]:
                return b"\x6a\x80"  # the mapping step refused, as an incompatible chip might
            return super().process(apdu)

    broken = BrokenPace(passport.holder, passport.files, pace_parameter_id=13)
    reader = PassportReader(InProcessChipSlot(broken), _access())
    read = reader.read()
    assert reader.protocol == "BAC"
    assert set(read.objects) == set(FILES)
