"""The virtual IC driving licence (IC運転免許証), laid out as 仕様書バージョン番号 008 describes (docs/id-documents.md
§Japanese): MF/EF01 共通データ要素 and EF02 暗証番号設定 free to read, DF1 記載事項 and 電子署名 behind 暗証番号1,
DF2 写真 behind both PINs, three tries per PIN. Every AID, file id and tag comes from service/wire/idchips_jp.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace

from clerk_agent.card.apdu import encode_tlv
from clerk_agent.card.virtual.cardface import face_photo_jp2
from clerk_agent.card.virtual.idchips.jp_engine import MF, JpDf, JpFile, JpFileCard, JpKey
from clerk_agent.card.virtual.idchips.jp_people import LICENCE_HOLDERS, LicenceHolder
from clerk_agent.card.virtual.idchips.jp_pki import JpSigner, Variant, jp_signer
from service.wire import idchips_jp as jp

# ISO 14443 type B cards have no historical bytes worth imitating; a plain T=1 ATR as pcscd reports contactless.
LICENCE_ATR = bytes.fromhex("3B888001000000000000000009")


def _bcd(day: dt.date) -> bytes:
    return bytes.fromhex(f"{day:%Y%m%d}")


def common_data(holder: LicenceHolder) -> bytes:
    """MF/EF01: spec version, issue and expiry date; card maker and crypto function ids."""
    value = jp.LICENCE_SPEC_VERSION.encode("ascii") + _bcd(holder.issued) + _bcd(holder.valid_until)
    return encode_tlv(jp.LICENCE_TAG_COMMON, value) + encode_tlv(0x46, b"\x01\x01")


def matters(holder: LicenceHolder) -> bytes:
    """DF1/EF01 記載事項(本籍除く) as TLVs (JIS X 0208 text, era dates, JIS X 0201 digits)."""
    return b"".join(
        (
            encode_tlv(jp.LICENCE_TAG_JIS_YEAR, b"\x02"),  # 2 = JIS X 0208:1990
            encode_tlv(jp.LICENCE_TAG_NAME, jp.jis_x0208_encode(holder.name)),
            encode_tlv(jp.LICENCE_TAG_NAME_KANA, jp.jis_x0208_encode(holder.name_kana)),
            encode_tlv(jp.LICENCE_TAG_BIRTH_DATE, jp.era_date_encode(holder.birth_date)),
            encode_tlv(jp.LICENCE_TAG_ADDRESS, jp.jis_x0208_encode(holder.address)),
            encode_tlv(jp.LICENCE_TAG_ISSUE_DATE, jp.era_date_encode(holder.issued)),
            encode_tlv(jp.LICENCE_TAG_COLOUR, jp.jis_x0208_encode(holder.colour)),
            encode_tlv(jp.LICENCE_TAG_VALID_UNTIL, jp.era_date_encode(holder.valid_until)),
            encode_tlv(jp.LICENCE_TAG_AUTHORITY, jp.jis_x0208_encode(holder.authority)),
            encode_tlv(jp.LICENCE_TAG_NUMBER, holder.number.encode("ascii")),
        )
    )


def photo(holder: LicenceHolder) -> bytes:
    """DF2/EF01 写真: the JPEG 2000 face image drawn for this invented holder."""
    return encode_tlv(jp.LICENCE_TAG_PHOTO, face_photo_jp2(holder.key))


def signature_file(signer: JpSigner, signed: bytes) -> bytes:
    """DF1/EF07 電子署名: serial, issuer and subject name, subject key id of the signer, then the signature."""
    certificate = signer.certificate
    return b"".join(
        (
            encode_tlv(jp.LICENCE_TAG_SIG_SERIAL, f"{certificate.serial_number:X}".encode("ascii")),
            encode_tlv(jp.LICENCE_TAG_SIG_ISSUER, certificate.issuer.rfc4514_string().encode("ascii")),
            encode_tlv(jp.LICENCE_TAG_SIG_SUBJECT, certificate.subject.rfc4514_string().encode("ascii")),
            encode_tlv(jp.LICENCE_TAG_SIG_KEY_ID, signer.key_id),
            encode_tlv(jp.LICENCE_TAG_SIG_VALUE, signer.sign(signed)),
        )
    )


def build_virtual_licence(
    holder_key: str = "sato_ichiro",
    *,
    signer: Variant | JpSigner = "current",
    alter_after_signing: bool = False,
    pins_set: bool = True,
    violation_sink: Callable[[str], None] | None = None,
) -> JpFileCard:
    """A fresh virtual licence (fresh PIN counters) for an invented holder.

    The signature covers 記載事項(本籍除く) ‖ 写真, the files' contents as read; `alter_after_signing` changes the
    address after the signature was made, as a forger editing the chip would.
    """
    holder = LICENCE_HOLDERS[holder_key]
    ef_matters, ef_photo = matters(holder), photo(holder)
    ef_signature = signature_file(
        signer if isinstance(signer, JpSigner) else jp_signer("driving_licence", signer),
        ef_matters + ef_photo,
    )
    if alter_after_signing:
        ef_matters = matters(replace(holder, address="窓口市本町九丁目９番９号"))
    pin1 = holder.pin1.encode("ascii") if pins_set else jp.LICENCE_UNSET_PIN
    pin2 = holder.pin2.encode("ascii") if pins_set else jp.LICENCE_UNSET_PIN
    both = frozenset({jp.LICENCE_PIN1_P2, jp.LICENCE_PIN2_P2})
    dfs = {
        MF: JpDf(
            {
                jp.LICENCE_MF_EF_COMMON: JpFile(common_data(holder)),
                jp.LICENCE_MF_EF_PIN_SETTING: JpFile(
                    encode_tlv(jp.LICENCE_TAG_PIN_SETTING, b"\x01" if pins_set else b"\x00")
                ),
            }
        ),
        jp.LICENCE_DF1_AID: JpDf(
            {
                jp.LICENCE_EF_MATTERS: JpFile(ef_matters, read_keys=frozenset({jp.LICENCE_PIN1_P2})),
                jp.LICENCE_EF_SIGNATURE: JpFile(ef_signature, read_keys=frozenset({jp.LICENCE_PIN1_P2})),
            }
        ),
        jp.LICENCE_DF2_AID: JpDf({jp.LICENCE_EF_PHOTO: JpFile(ef_photo, read_keys=both)}),
        jp.LICENCE_DF3_AID: JpDf(),
    }
    keys = {
        jp.LICENCE_PIN1_P2: JpKey(pin1, jp.LICENCE_PIN_TRIES),
        jp.LICENCE_PIN2_P2: JpKey(pin2, jp.LICENCE_PIN_TRIES),
    }
    return JpFileCard(
        atr=LICENCE_ATR,
        dfs=dfs,
        keys=keys,
        label=f"virtual licence {holder_key}",
        violation_sink=violation_sink,
    )
