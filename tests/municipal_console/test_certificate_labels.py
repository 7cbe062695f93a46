"""The console names every part of a counter certificate request in Japanese and English: the procedure from the
contract, and each scope and option the hub can answer in a case's `certificate` (docs/certificates.md §Counter)."""

from __future__ import annotations

import re
from typing import Any

from municipal_console.router import STATIC_DIR
from service.wire.cases import PROCEDURE_LABELS, Procedure
from service.wire.certificates import CertificateKind, CertificateOption, Scope
from service.wire.es import contract


def test_certificate_request_labels_in_both_languages() -> None:
    parts: dict[str, Any] = contract()
    procedures = {entry["code"]: entry for entry in parts["PROCEDURES"]}
    ja, en = PROCEDURE_LABELS[Procedure.certificate_request]
    assert (procedures["certificate_request"]["ja"], procedures["certificate_request"]["en"]) == (ja, en)
    # i18n.js names kinds, scopes and options by the contract's lists (certkind_*, certscope_*, certoption_*).
    for name, enum in (
        ("CERTIFICATE_KINDS", CertificateKind),
        ("CERTIFICATE_SCOPES", Scope),
        ("CERTIFICATE_OPTIONS", CertificateOption),
    ):
        entries = {entry["code"]: entry for entry in parts[name]}
        assert set(entries) == {member.value for member in enum}
        assert all(entry["ja"] and entry["en"] for entry in entries.values())
    i18n = (STATIC_DIR / "js" / "i18n.js").read_text(encoding="utf-8")
    for table in ("certkind: byCode(CERTIFICATE_KINDS)", "certscope: byCode(CERTIFICATE_SCOPES)"):
        assert table in i18n
    live = (STATIC_DIR / "js" / "live.js").read_text(encoding="utf-8")
    assert re.search(r'label\("certkind", asked\.kind\)', live)
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for element in ("live-certificate", "live-certificate-summary", "decision-resident"):
        assert f'id="{element}"' in html
