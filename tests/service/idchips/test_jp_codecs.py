"""The Japanese documents' codecs in service/wire/idchips_jp.py: era dates, JIS X 0208 text, BCD dates."""

from __future__ import annotations

import datetime as dt

import pytest

from service.wire import idchips_jp as jp


@pytest.mark.parametrize(
    ("day", "encoded"),
    [
        (dt.date(1975, 6, 14), b"3500614"),  # 昭和50年
        (dt.date(1989, 1, 7), b"3640107"),  # 昭和64年, its last day
        (dt.date(1989, 1, 8), b"4010108"),  # 平成元年, its first day
        (dt.date(2019, 4, 30), b"4310430"),  # 平成31年, its last day
        (dt.date(2019, 5, 1), b"5010501"),  # 令和元年
        (dt.date(2029, 7, 14), b"5110714"),
    ],
)
def test_era_dates_round_trip_across_era_boundaries(day: dt.date, encoded: bytes) -> None:
    assert jp.era_date_encode(day) == encoded
    assert jp.era_date_decode(encoded) == day


@pytest.mark.parametrize("raw", [b"9500614", b"350061", b"35006A4", b"3501314"])
def test_a_malformed_era_date_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match=r".+"):
        jp.era_date_decode(raw)


def test_jis_x0208_round_trip_and_padding() -> None:
    encoded = jp.jis_x0208_encode("窓口市本町一丁目２番３号")
    assert all(0x21 <= b <= 0x7E for b in encoded)
    assert jp.jis_x0208_decode(encoded + b"\x21\x21\x21\x21") == "窓口市本町一丁目２番３号"
    with pytest.raises(ValueError, match="two-byte"):
        jp.jis_x0208_encode("ABC")  # half-width is JIS X 0201, not a 記載事項 text field


def test_bcd_dates() -> None:
    assert jp.bcd_date_decode(bytes.fromhex("20290714")) == dt.date(2029, 7, 14)
