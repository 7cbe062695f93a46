"""Invented holders of the virtual Japanese documents. None of them exists; every number is made up.

Licence numbers start with 99 (no 公安委員会 has that code) and residence card numbers with XX, so neither can be
anyone's real document.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# Validity relative to today, so that the suite's "valid" licence stays valid and the expired one expired.
_THIS_YEAR = dt.datetime.now(dt.UTC).year


@dataclass(frozen=True)
class LicenceHolder:
    """A synthetic IC driving licence holder (IC運転免許証) and the two PINs they chose."""

    key: str
    name: str
    name_kana: str
    birth_date: dt.date
    address: str
    number: str  # 免許証の番号, 12 digits
    issued: dt.date
    valid_until: dt.date
    authority: str  # 公安委員会名
    colour: str  # 優良 / 一般 / 新規
    pin1: str
    pin2: str


@dataclass(frozen=True)
class ResidenceHolder:
    """A synthetic residence card (在留カード) or special permanent resident certificate holder."""

    key: str
    name: str  # as on the card: the roman-letter name
    nationality: str
    birth_date: dt.date
    address: str  # 住居地
    card_number: str  # 在留カード等番号, 12 characters: the access key
    card_type: str  # "1" 在留カード, "2" 特別永住者証明書
    status: str  # 在留資格 (empty for a special permanent resident)
    valid_until: dt.date


LICENCE_HOLDERS = {
    "sato_ichiro": LicenceHolder(
        key="sato_ichiro",
        name="佐藤　一郎",
        name_kana="サトウ　イチロウ",
        birth_date=dt.date(1975, 6, 14),
        address="窓口市本町一丁目２番３号",
        number="990012345670",
        issued=dt.date(_THIS_YEAR - 2, 7, 1),
        valid_until=dt.date(_THIS_YEAR + 3, 7, 14),
        authority="窓口県公安委員会",
        colour="優良",
        pin1="2580",
        pin2="1397",
    ),
    "suzuki_mika": LicenceHolder(
        key="suzuki_mika",
        name="鈴木　美香",
        name_kana="スズキ　ミカ",
        birth_date=dt.date(1992, 11, 3),
        address="窓口市港町四丁目５番６号",
        number="990087654320",
        issued=dt.date(_THIS_YEAR - 4, 12, 1),
        valid_until=dt.date(_THIS_YEAR - 1, 12, 3),  # already run out: for the expired-document case
        authority="窓口県公安委員会",
        colour="一般",
        pin1="6024",
        pin2="8451",
    ),
}

RESIDENCE_HOLDERS = {
    "nguyen_lan": ResidenceHolder(
        key="nguyen_lan",
        name="NGUYEN VAN LAN",
        nationality="ベトナム",
        birth_date=dt.date(1998, 3, 21),
        address="窓口市駅前二丁目８番９号",
        card_number="XX12345678AB",
        card_type="1",
        status="技術・人文知識・国際業務",
        valid_until=dt.date(2028, 3, 31),
    ),
    "kim_minjun": ResidenceHolder(
        key="kim_minjun",
        name="KIM MINJUN",
        nationality="韓国",
        birth_date=dt.date(1969, 8, 9),
        address="窓口市桜町三丁目１番１号",
        card_number="XX87654321CD",
        card_type="2",
        status="",
        valid_until=dt.date(2031, 8, 9),
    ),
}
