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
    assert bytes(key) == _hex("89DED1B2 6624EC1E 634C1989 302849DD")
    decryptor = Cipher(algorithms.AES(bytes(key)), modes.CBC(bytes(16))).decryptor()
    nonce = decryptor.update(_hex("854D8DF5 827FA685 2D1A4FA7 01CDDDCA")) + decryptor.finalize()
    assert nonce == _hex("FA5B7E3E 49753A0D B9178B7B 9BD898C8")


def test_key_agreement_session_keys_and_tokens_match_the_worked_example() -> None:
    curve = BRAINPOOLP256r1
    mapped = pace.point_from(
        curve,
        _hex(
            "04 8E82D315 59ED0FDE 92A4D049 8ADD3C23 BABA94FB 77691E31 E90AEA77 FB17D427"
            " 4C1AE14B D0C3DBAC 0C871B7F 36081693 64437CA3 0AC243A0 89D3F266 C1E60FAD"
        ),
    )
    terminal_private = int.from_bytes(
        _hex("A73FB703 AC1436A1 8E0CFA5A BB3F7BEC 7A070E7A 6788486B EE230C4A 22762595"), "big"
    )
    terminal = pace.encode_point(mapped * terminal_private)
    assert terminal == _hex(
        "04 89CBA23F FE96AA18 D824627C 3E934E54 A9FD0B87 A95D1471 DC1C0ABF DCD640D4"
        " 6755DE9B 7B778280 B6BEBD57 439ADFEB 0E21FD4E D6DF4257 8C13418A 59B34C37"
    )
    chip = _hex(
        "04 67F78E5F 7F768608 2B293E8D 087E0569 16D0F74B C01A5F89 57D0DE45 691E51E8"
        " 932B69A9 62B52A09 85AD2C0A 271EE6A1 3A8ADDDC D1A3A994 B9DED257 F4D22753"
    )
    shared = pace.shared_secret(curve, terminal_private, pace.point_from(curve, chip))
    assert shared == _hex("4F150FDE 1D4F0E38 E95017B8 91BAE171 33A0DF45 B0D3E18B 60BA7BEA FDC2C713")
    ks_enc, ks_mac = pace.kdf(shared, pace.ENC), pace.kdf(shared, pace.MAC)
    assert ks_enc == _hex("0D3FEB33 251A6370 893D62AE 8DAAF51B")
    assert ks_mac == _hex("B01E89E3 D9E8719E 586B50B4 A7506E0B")
    assert pace.token(ks_mac, ECDH_IM_AES_128, chip) == _hex("450F02B8 6F6A0909")
    assert pace.token(ks_mac, ECDH_IM_AES_128, terminal) == _hex("75D4D96E 8D5B0308")


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
