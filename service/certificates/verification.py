"""The public verification of a printed certificate: by its code (the QR on every page) or by an uploaded PDF.

An anonymous checker learns what the paper itself already says and no more: issuer, when, kind, the content digest and
whether this copy is still the valid one (docs/certificates.md §Verification).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from service.certificates import repository
from service.certificates.models import CertificateDocument
from service.certificates.runtime import CertificateRuntime
from service.certificates.signing import embedded_binding
from service.tenancy.models import Municipality
from service.wire.certificates import KIND_LABELS, VERDICT_LABELS, CertificateKind, Verdict

_VERDICT_OF_STATUS = {
    "current": Verdict.genuine,
    "superseded": Verdict.superseded,
    "voided": Verdict.voided,
}


class VerificationRead(BaseModel):
    """GET /api/v1/verify/{code} and POST /api/v1/verify/pdf."""

    verdict: Verdict
    message_ja: str
    message_en: str
    verification_code: str | None = None
    issuer_code: str | None = None
    issuer_name: str | None = None
    kind: CertificateKind | None = None
    kind_ja: str | None = None
    kind_en: str | None = None
    issue_number: str | None = None
    issued_at: dt.datetime | None = None
    content_sha256: str | None = None
    pages: int | None = None


async def _read(
    session: AsyncSession, document: CertificateDocument | None, verdict: Verdict | None = None
) -> VerificationRead:
    if document is None:
        verdict = verdict or Verdict.unknown
        ja, en = VERDICT_LABELS[verdict]
        return VerificationRead(verdict=verdict, message_ja=ja, message_en=en)
    verdict = verdict or _VERDICT_OF_STATUS.get(document.status, Verdict.voided)
    ja, en = VERDICT_LABELS[verdict]
    municipality = await session.get(Municipality, document.municipality_code)
    kind = CertificateKind(document.kind)
    return VerificationRead(
        verdict=verdict,
        message_ja=ja,
        message_en=en,
        verification_code=document.verification_code,
        issuer_code=document.municipality_code,
        issuer_name=municipality.name if municipality else None,
        kind=kind,
        kind_ja=KIND_LABELS[kind][0],
        kind_en=KIND_LABELS[kind][1],
        issue_number=document.issue_number,
        issued_at=document.issued_at,
        content_sha256=document.content_sha256,
        pages=document.pages,
    )


async def by_code(session: AsyncSession, code: str) -> VerificationRead:
    """The register's entry for a code as printed (case and separators as people type them)."""
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    formatted = f"{cleaned[:4]}-{cleaned[4:8]}-{cleaned[8:]}" if len(cleaned) == 12 else ""
    document = await repository.document_by_code(session, formatted) if formatted else None
    return await _read(session, document)


async def check_pdf(session: AsyncSession, runtime: CertificateRuntime, data: bytes) -> VerificationRead:
    """An uploaded PDF: exactly a registered copy (genuine, superseded or void), altered (tampered), or unknown."""
    document = await repository.document_by_digest(session, hashlib.sha256(data).hexdigest())
    if document is not None:
        return await _read(session, document)
    signed_ok = runtime.authority is not None and await runtime.authority.check(data)
    # Bytes we never issued that still look like ours (our binding, or a signature that no longer holds): altered.
    looks_ours = embedded_binding(data) is not None or b"/MunicipalSignature" in data
    if looks_ours and not signed_ok:
        return await _read(session, None, Verdict.tampered)
    return await _read(session, None, Verdict.unknown)


def page(read: VerificationRead, code: str) -> str:
    """The verification page: Japanese first, English beside it; no personal data."""
    e = html.escape
    rows = ""
    if read.issuer_code:
        fields = [
            ("発行者 / Issuer", f"{read.issuer_name or ''}（{read.issuer_code}）"),
            ("証明書 / Certificate", f"{read.kind_ja} / {read.kind_en}"),
            ("発行番号 / Issue number", read.issue_number or ""),
            ("発行日時 / Issued at", read.issued_at.isoformat(timespec="minutes") if read.issued_at else ""),
            ("枚数 / Pages", str(read.pages or "")),
            ("内容のハッシュ (SHA-256) / Content digest", read.content_sha256 or ""),
        ]
        rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in fields)
    colour = {"genuine": "#0a6b2d", "superseded": "#8a5a00"}.get(read.verdict.value, "#9b1c1c")
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>証明書の確認 / Certificate verification</title>
<style>body{{font-family:sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;line-height:1.6}}
.verdict{{font-size:1.4rem;font-weight:bold;color:{colour};border:3px solid {colour};padding:.8rem;border-radius:.4rem}}
th{{text-align:left;padding-right:1rem;vertical-align:top}}td{{word-break:break-all}}</style></head>
<body><h1>証明書の確認 <small>Certificate verification</small></h1>
<p>確認コード / Verification code: <code>{e(code)}</code></p>
<p class="verdict" data-verdict="{e(read.verdict.value)}">{e(read.message_ja)}<br><span lang="en">{e(read.message_en)}</span></p>
<table>{rows}</table>
<p>紙面の記載内容と上の発行者・証明書・発行番号が一致することを確かめてください。<br>
<span lang="en">Check that the issuer, certificate and issue number above match the paper.</span></p>
</body></html>
"""
