"""The card profiles (docs/card.md §3): one place for both generations, and the date rules taken from it."""

from __future__ import annotations

import datetime as dt

import pytest

from service.wire.card_profiles import (
    CURRENT,
    DETECTION_ORDER,
    NEXT,
    PROFILES,
    CardGeneration,
    PinRole,
    SignatureScheme,
    add_months,
    certificate_expiry,
    in_renewal_window,
    profile_for,
    renewal_opens,
)


def test_each_generation_has_one_profile_with_its_published_outline() -> None:
    assert set(PROFILES) == set(CardGeneration)
    assert profile_for("gen2028") is NEXT
    assert DETECTION_ORDER[0] is CURRENT
    assert (CURRENT.signature, NEXT.signature) == (
        SignatureScheme.RSA2048_SHA256,
        SignatureScheme.ECDSA_P384_SHA384,
    )
    assert (len(CURRENT.applications), len(NEXT.applications)) == (4, 2)
    pins = [spec for spec in NEXT.pins if spec.role is not PinRole.CARD_FACE_CODE]
    assert [spec.role for spec in pins] == [PinRole.AUTH, PinRole.SIGN]  # two PINs
    assert not NEXT.has(PinRole.KENHOJO)
    assert CURRENT.has(PinRole.KENHOJO)
    assert (CURRENT.certificate_validity_years, NEXT.certificate_validity_years) == (5, 10)
    assert (CURRENT.renewal_window_months, NEXT.renewal_window_months) == (3, 12)
    assert not NEXT.card_face_has_sex
    # Every generation keeps the number out of reach, and its applications do not overlap the other's.
    assert CURRENT.forbidden_files
    assert NEXT.forbidden_files
    assert not set(CURRENT.applications) & set(NEXT.applications)
    assert CURRENT.label == ("現行カード（2016年〜）", "Current card (2016–)")


@pytest.mark.parametrize(
    ("secret", "role", "ok"),
    [
        ("4721", PinRole.AUTH, True),
        ("472", PinRole.AUTH, False),
        ("47a1", PinRole.AUTH, False),
        ("HANAKO2025", PinRole.SIGN, True),
        ("hanako2025", PinRole.SIGN, False),
        ("ABC12", PinRole.SIGN, False),
        ("１２３４", PinRole.AUTH, False),  # full-width digits are not ASCII
    ],
)
def test_pin_formats(secret: str, role: PinRole, ok: bool) -> None:
    assert NEXT.pin(role).accepts(secret) is ok
    assert CURRENT.pin(role).accepts(secret) is ok


def test_add_months_clamps_to_the_months_last_day() -> None:
    assert add_months(dt.date(2026, 5, 31), -3) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2028, 5, 31), -3) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2026, 1, 15), -12) == dt.date(2025, 1, 15)
    assert add_months(dt.date(2026, 11, 30), 3) == dt.date(2027, 2, 28)


def test_the_renewal_window_comes_from_the_profile() -> None:
    expiry = dt.date(2031, 4, 12)
    assert renewal_opens(CURRENT, expiry) == dt.date(2031, 1, 12)
    assert renewal_opens(NEXT, expiry) == dt.date(2030, 4, 12)
    day = dt.date(2030, 10, 1)  # six months before expiry
    assert not in_renewal_window(CURRENT, expiry, day)
    assert in_renewal_window(NEXT, expiry, day)
    assert not in_renewal_window(NEXT, expiry, expiry + dt.timedelta(days=1))  # after expiry: a new issue
    assert in_renewal_window(CURRENT, expiry, expiry)


def test_certificates_end_on_the_profiles_birthday() -> None:
    born = dt.date(1985, 4, 12)
    assert certificate_expiry(CURRENT, issued=dt.date(2026, 1, 10), birth_date=born) == dt.date(2030, 4, 12)
    assert certificate_expiry(NEXT, issued=dt.date(2026, 1, 10), birth_date=born) == dt.date(2035, 4, 12)
    # Issued on the birthday itself: that birthday does not count.
    assert certificate_expiry(CURRENT, issued=dt.date(2026, 4, 12), birth_date=born) == dt.date(2031, 4, 12)
    leap = dt.date(2000, 2, 29)
    assert certificate_expiry(CURRENT, issued=dt.date(2026, 3, 1), birth_date=leap) == dt.date(2031, 2, 28)
