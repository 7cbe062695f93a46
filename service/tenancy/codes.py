"""Validation of the codes that identify tenants, and the procedure catalogue."""

from __future__ import annotations

import re
from enum import StrEnum

_MUNICIPALITY_CODE = re.compile(r"^[0-9]{6}$")
_OFFICE_CODE = re.compile(r"^[0-9]{5}$")


class Procedure(StrEnum):
    """Counter procedures a designation may cover (取扱事務)."""

    card_application = "card_application"  # 交付申請受付
    card_renewal = "card_renewal"  # 更新
    ecert_issue_renew = "ecert_issue_renew"  # 電子証明書の発行・更新
    pin_reset = "pin_reset"  # 暗証番号の初期化・変更
    application_support = "application_support"  # 申請サポート (no identity decision)
    certificate_kiosk = "certificate_kiosk"  # 証明書交付


PROCEDURE_LABELS: dict[Procedure, tuple[str, str]] = {
    Procedure.card_application: ("交付申請受付", "Card application"),
    Procedure.card_renewal: ("更新", "Card renewal"),
    Procedure.ecert_issue_renew: ("電子証明書の発行・更新", "E-certificate issue / renewal"),
    Procedure.pin_reset: ("暗証番号の初期化・変更", "PIN reset / change"),
    Procedure.application_support: ("申請サポート", "Application support"),
    Procedure.certificate_kiosk: ("証明書交付", "Certificate issuance"),
}


def municipality_check_digit(first_five: str) -> int:
    """Check digit of a 全国地方公共団体コード: weights 6..2, modulus 11, last digit of (11 - remainder)."""
    total = sum(int(d) * w for d, w in zip(first_five, (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10


def is_valid_municipality_code(code: str) -> bool:
    """Whether `code` is six digits with a correct check digit (e.g. 131016 千代田区)."""
    if not _MUNICIPALITY_CODE.match(code):
        return False
    return municipality_check_digit(code[:5]) == int(code[5])


def is_valid_office_code(code: str) -> bool:
    """Whether `code` looks like a post office code (five digits)."""
    return bool(_OFFICE_CODE.match(code))
