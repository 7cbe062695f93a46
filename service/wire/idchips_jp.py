"""The Japanese chip documents' layout in one place: AIDs, file ids, tags, the names of the objects sent to the hub.

Both the counter's readers (clerk_agent/card/idchips) and the hub's verifiers (service/idchips) take every AID,
file id and tag from here, and so do the virtual documents; docs/id-documents.md §Japanese says which
specification version each value comes from and which values are assumed where the published text stops.
Plain data and pure codecs only (no pydantic, nothing else from service/), so that both sides can import it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

# --- IC運転免許証 (driving_licence): 運転免許証及び運転免許証作成システム等仕様書, 仕様書バージョン番号 008 -----

LICENCE_SPEC_VERSION: Final = "008"
# DF names as the specification lists them (16 bytes each); SELECT by DF name, P2=0C.
LICENCE_DF1_AID: Final = bytes.fromhex("A0000002310100000000000000000000")  # 記載事項, 電子署名
LICENCE_DF2_AID: Final = bytes.fromhex("A0000002310200000000000000000000")  # 写真
LICENCE_DF3_AID: Final = bytes.fromhex("A0000002480300000000000000000000")  # RFU
LICENCE_MF_EF_COMMON: Final = 0x2F01  # MF/EF01 共通データ要素 (free to read)
LICENCE_MF_EF_PIN_SETTING: Final = 0x2F02  # MF/EF02 暗証番号設定 (free to read)
LICENCE_EF_MATTERS: Final = 0x0001  # DF1/EF01 記載事項(本籍除く)
LICENCE_EF_SIGNATURE: Final = 0x0007  # DF1/EF07 電子署名
LICENCE_EF_PHOTO: Final = 0x0001  # DF2/EF01 写真
# VERIFY P2 (specific reference data, key id 1 and 2): IEF01 暗証番号1, IEF02 暗証番号2.
LICENCE_PIN1_P2: Final = 0x81
LICENCE_PIN2_P2: Final = 0x82
LICENCE_PIN_LENGTH: Final = 4
LICENCE_PIN_TRIES: Final = 3
# With MF/EF02 saying "no PIN set", the card expects this value (JIS X 0201 "****") for both PINs.
LICENCE_UNSET_PIN: Final = b"****"

# MF/EF01 tags: 45 = spec version (3) + issue date (4, BCD YYYYMMDD) + expiry (4, BCD); 46 = maker, crypto ids.
LICENCE_TAG_COMMON: Final = 0x45
LICENCE_TAG_PIN_SETTING: Final = 0xC1  # MF/EF02: 01 = the holder set PINs, 00 = not set
# DF1/EF01 記載事項 tags (values JIS X 0208 two-byte text or JIS X 0201 digits).
LICENCE_TAG_JIS_YEAR: Final = 0x11
LICENCE_TAG_NAME: Final = 0x12
LICENCE_TAG_NAME_KANA: Final = 0x13
LICENCE_TAG_BIRTH_DATE: Final = 0x16
LICENCE_TAG_ADDRESS: Final = 0x17
LICENCE_TAG_ISSUE_DATE: Final = 0x18
LICENCE_TAG_COLOUR: Final = 0x1A
LICENCE_TAG_VALID_UNTIL: Final = 0x1B
LICENCE_TAG_AUTHORITY: Final = 0x20
LICENCE_TAG_NUMBER: Final = 0x21
# DF1/EF07 電子署名: the published field list (シリアル番号, 発行者名, 主体者名, 主体者鍵識別子, 電子署名); the tag
# numbers below are ours (assumed, docs/id-documents.md §Japanese) and only these constants change if they differ.
LICENCE_TAG_SIG_SERIAL: Final = 0x30
LICENCE_TAG_SIG_ISSUER: Final = 0x31
LICENCE_TAG_SIG_SUBJECT: Final = 0x32
LICENCE_TAG_SIG_KEY_ID: Final = 0x33
LICENCE_TAG_SIG_VALUE: Final = 0x34
LICENCE_TAG_PHOTO: Final = 0x5F40  # DF2/EF01: the JPEG 2000 (here: JPEG) face image

# --- 在留カード / 特別永住者証明書: 在留カード等仕様書 (一般公開用) Ver 1.5 -----------------------------------

RESIDENCE_SPEC_VERSION: Final = "1.5"
RESIDENCE_DF1_AID: Final = bytes.fromhex("D392F0004F0200000000000000000000")  # 券面(表)イメージ, 顔画像
RESIDENCE_DF2_AID: Final = bytes.fromhex("D392F0004F0300000000000000000000")  # 裏面追記 (住居地 …)
RESIDENCE_DF3_AID: Final = bytes.fromhex("D392F0004F0400000000000000000000")  # 電子署名
# Short EF identifiers, READ BINARY with P1 = 80|SFI.
RESIDENCE_SFI_COMMON: Final = 0x01  # MF/EF01 共通データ要素 (free)
RESIDENCE_SFI_CARD_TYPE: Final = 0x02  # MF/EF02 カード種別 (free)
RESIDENCE_SFI_CARD_FACE: Final = 0x05  # DF1/EF01 券面(表)イメージ (SM)
RESIDENCE_SFI_PHOTO: Final = 0x06  # DF1/EF02 顔画像 (SM)
RESIDENCE_SFI_ADDRESS: Final = 0x01  # DF2/EF01 住居地 (SM)
RESIDENCE_SFI_SIGNATURE: Final = 0x02  # DF3/EF01 電子署名 (SM)
RESIDENCE_TAG_COMMON: Final = 0xC0
RESIDENCE_TAG_CARD_TYPE: Final = 0xC1  # "1" 在留カード, "2" 特別永住者証明書
RESIDENCE_TAG_CARD_FACE: Final = 0xD0
RESIDENCE_TAG_PHOTO: Final = 0xD1
RESIDENCE_TAG_ADDRESS: Final = 0xD2
RESIDENCE_TAG_CHECK_CODE: Final = 0xDA  # RSA-2048 over SHA-256(券面(表)イメージ ‖ 顔画像)
RESIDENCE_TAG_CERTIFICATE: Final = 0xDB  # X.509 certificate of the key that made the check code
RESIDENCE_CARD_NUMBER_LENGTH: Final = 12
RESIDENCE_CARD_TYPES: Final = {"1": "residence_card", "2": "special_permanent_resident"}
# Secure messaging: CLA 08, VERIFY P2 86 (the card number, encrypted, in tag 86), READ BINARY Le in tag 96.
SM_CLA: Final = 0x08
SM_VERIFY_P2: Final = 0x86
SM_TAG_CRYPTOGRAM: Final = 0x86
SM_TAG_LE: Final = 0x96
SM_PADDING_INDICATOR: Final = 0x01

# --- My Number Card APs used only to detect the combined cards (never read here) ---------------------------

JPKI_AID: Final = bytes.fromhex("D392F000260100000001")
# マイナ免許証: the licence record (免許情報記録) AP. Its DF name is not in the specifications we had (the NPA's
# マイナ免許証 specification is given to relying parties on request); this value is a placeholder that marks where
# the real one goes. Detection by it is therefore "assumed" until it is replaced (docs/id-documents.md §Japanese).
MYNA_LICENCE_AID: Final = bytes.fromhex("D392F0002601000000F1")

# --- the objects the agent sends (ChipReadout.objects keys) ------------------------------------------------

LICENCE_OBJECTS: Final = ("mf_ef01", "df1_ef01", "df1_ef07", "df2_ef01")
RESIDENCE_OBJECTS: Final = ("mf_ef01", "mf_ef02", "df1_ef01", "df1_ef02", "df2_ef01", "df3_ef01")
RESIDENCE_SIGNED_OBJECTS: Final = ("df1_ef01", "df1_ef02")

# --- codecs ------------------------------------------------------------------------------------------------

_ERAS: Final = {"1": 1867, "2": 1911, "3": 1925, "4": 1988, "5": 2018}  # 明治 大正 昭和 平成 令和: year 1 - 1
_ERA_STARTS: Final = (
    ("5", dt.date(2019, 5, 1)),
    ("4", dt.date(1989, 1, 8)),
    ("3", dt.date(1926, 12, 25)),
    ("2", dt.date(1912, 7, 30)),
    ("1", dt.date(1868, 1, 25)),
)


def jis_x0208_decode(raw: bytes) -> str:
    """Two-byte JIS X 0208 codes (21..7E pairs) to text; the card pads with 2121 (全角空白), stripped."""
    return bytes(b | 0x80 for b in raw).decode("euc_jp").rstrip("\u3000")


def jis_x0208_encode(text: str) -> bytes:
    """Text to two-byte JIS X 0208 codes (as EUC-JP without its high bits)."""
    encoded = text.encode("euc_jp")
    if any(b < 0x80 for b in encoded):
        raise ValueError("only JIS X 0208 (two-byte) characters are allowed here")
    return bytes(b & 0x7F for b in encoded)


def era_date_decode(raw: bytes) -> dt.date:
    """7 JIS X 0201 digits, era code then YYMMDD (e.g. 5070401 = 令和7年4月1日), to a date."""
    text = raw.decode("ascii")
    if len(text) != 7 or not text.isdigit() or text[0] not in _ERAS:
        raise ValueError(f"not an era date: {text!r}")
    return dt.date(_ERAS[text[0]] + int(text[1:3]), int(text[3:5]), int(text[5:7]))


def era_date_encode(day: dt.date) -> bytes:
    """The inverse of era_date_decode, with the era in force on that day."""
    code = next(code for code, first in _ERA_STARTS if day >= first)
    return f"{code}{day.year - _ERAS[code]:02d}{day:%m%d}".encode("ascii")


def bcd_date_decode(raw: bytes) -> dt.date:
    """4 BCD bytes YYYYMMDD to a date."""
    return dt.datetime.strptime(raw.hex(), "%Y%m%d").replace(tzinfo=dt.UTC).date()


@dataclass(frozen=True)
class CombinedCard:
    """What a detection found, and what may be read from it (docs/id-documents.md §Combined)."""

    kind: str
    readable_ja: str
    readable_en: str


COMBINED_CARDS: Final = {
    "tokutei_zairyu": CombinedCard(
        "特定在留カード / 特定特別永住者証明書",
        "在留カード部分（券面イメージ・顔画像・電子署名）は在留カード番号で読めます。"
        "マイナンバーカード部分は照合番号Bの券面事項確認と電子証明書だけを使い、個人番号は読みません。",
        "The residence-card part (card-face image, photo, signature) reads with the card number; of the My Number"
        " Card part only the card-face check with code B and the certificates are used, never the My Number.",
    ),
    "myna_licence": CombinedCard(
        "マイナ免許証（免許情報記録のあるマイナンバーカード）",
        "免許情報（免許の種類・有効期限・条件）は本人の暗証番号で読めますが、氏名・住所・生年月日は含まれません。"
        "本人確認はマイナンバーカードとして照合番号Bで行います。個人番号は読みません。",
        "The licence record (categories, expiry, conditions) reads with the holder's PIN but holds no name,"
        " address or birth date; identify the holder through the My Number Card with code B. Never the My Number.",
    ),
}
