"""The console names every part of a counter certificate request in Japanese and English: the procedure from the
contract, and each scope and option the hub can answer in a case's `certificate` (docs/certificates.md §Counter)."""

from __future__ import annotations

import re

from municipal_console.router import STATIC_DIR
from service.wire.cases import PROCEDURE_LABELS, Procedure
from service.wire.certificates import CertificateOption, Scope
from service.wire.es import contract


def test_certificate_request_labels_in_both_languages() -> None:
    procedures = {entry["code"]: entry for entry in contract()["PROCEDURES"]}
    ja, en = PROCEDURE_LABELS[Procedure.certificate_request]
    assert (procedures["certificate_request"]["ja"], procedures["certificate_request"]["en"]) == (ja, en)
    source = (STATIC_DIR / "js" / "strings.js").read_text(encoding="utf-8")
    ja_block, en_block = source.split("\n  en: {", 1)
    wanted = {f"cert_scope_{s.value}" for s in Scope} | {f"cert_option_{o.value}" for o in CertificateOption}
    for block in (ja_block, en_block):
        keys = set(re.findall(r"^\s+([a-z0-9_]+):", block, flags=re.MULTILINE))
        assert wanted <= keys, sorted(wanted - keys)
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for element in ("live-certificate", "live-certificate-summary", "decision-resident"):
        assert f'id="{element}"' in html
