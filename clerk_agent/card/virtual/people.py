"""Invented people the virtual card can play. None of them exists; every number is made up.

Each 個人番号 below has a deliberately wrong check digit (番号法施行令 第8条 formula), so it cannot be anyone's
real number. The emulator holds it only so that a test can prove nothing ever reads it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# (first day of the era, name, offset so that the era's first year is 1)
_ERAS = (
    (dt.date(2019, 5, 1), "令和", 2018),
    (dt.date(1989, 1, 8), "平成", 1988),
    (dt.date(1926, 12, 25), "昭和", 1925),
)


def era_yymmdd(day: dt.date) -> str:
    """Birth date as Japanese-era YYMMDD, the form 照合番号B begins with (昭和55年2月17日 → 550217)."""
    for start, _name, offset in _ERAS:
        if day >= start:
            return f"{day.year - offset:02d}{day.month:02d}{day.day:02d}"
    raise ValueError("dates before 昭和 are not supported")


def my_number_check_digit(first_eleven: str) -> int:
    """The check digit of a 12-digit 個人番号 (used here only to prove ours are invalid)."""
    total = 0
    for n in range(1, 12):
        p = int(first_eleven[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


@dataclass(frozen=True)
class VirtualPerson:
    """A synthetic card holder and the secrets printed on or chosen for their card."""

    key: str
    name: str
    address: str
    birth_date: dt.date
    sex: str  # JIS X 0303: 1 male, 2 female
    expiry: dt.date
    security_code: str  # the 4 digits printed on the card face
    auth_pin: str  # 利用者証明用暗証番号
    sign_password: str  # 署名用パスワード
    kenhojo_pin: str  # 券面事項入力補助用暗証番号
    my_number: str  # never read by any code path; see FORBIDDEN_FILES

    @property
    def code_b(self) -> str:
        """照合番号B: era birth date YYMMDD + expiry year + security code (14 digits)."""
        return f"{era_yymmdd(self.birth_date)}{self.expiry.year:04d}{self.security_code}"


PEOPLE: dict[str, VirtualPerson] = {
    person.key: person
    for person in (
        VirtualPerson(
            key="yamada_hanako",
            name="山田\u3000花子",
            address="東京都千代田区架空町一丁目２番３号",
            birth_date=dt.date(1985, 4, 12),
            sex="2",
            expiry=dt.date(2034, 4, 12),
            security_code="4821",
            auth_pin="4721",
            sign_password="HANAKO2025",  # noqa: S106 - synthetic test card
            kenhojo_pin="4721",
            my_number="902107531865",
        ),
        VirtualPerson(
            key="sato_taro",
            name="佐藤\u3000太郎",
            address="大阪府架空市みなと通り四丁目５番６号",
            birth_date=dt.date(1992, 11, 3),
            sex="1",
            expiry=dt.date(2033, 11, 3),
            security_code="9034",
            auth_pin="8305",
            sign_password="TARO1103X",  # noqa: S106 - synthetic test card
            kenhojo_pin="8305",
            my_number="713508642905",
        ),
    )
}
