"""The IC driving licence verifier (IC運転免許証, 仕様書バージョン番号 008; docs/id-documents.md §Japanese).

DF1/EF07 電子署名 carries the signature over 記載事項(本籍除く) ‖ 写真 and names the signing key (issuer, subject,
subject key identifier) without carrying its certificate. The hub finds that key among its configured licence
anchors — a signer certificate issued by a configured root, or a key the issuer published — and checks the
signature, the signer's validity and CRL, and the licence's own 有効期間の末日. Every failure is a named check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from service.idchips.anchors import ChipAnchors
from service.idchips.jp_trust import (
    Refused,
    is_ca,
    issuing_root,
    revocation,
    rsa_sha256_holds,
    tokyo_today,
    within,
)
from service.idchips.tlv import TlvError, iter_tlv
from service.idchips.verifiers import ChipFields, ChipVerification, register
from service.wire import idchips_jp as jp
from service.wire.idchips import ChipKind, ChipRefusal

KINDS = (ChipKind.driving_licence,)


def _tags(data: bytes) -> dict[int, bytes]:
    return dict(iter_tlv(data))


def _fields(matters: Mapping[int, bytes]) -> ChipFields:
    return ChipFields(
        name=jp.jis_x0208_decode(matters[jp.LICENCE_TAG_NAME]),
        birth_date=jp.era_date_decode(matters[jp.LICENCE_TAG_BIRTH_DATE]),
        address=jp.jis_x0208_decode(matters[jp.LICENCE_TAG_ADDRESS]),
        valid_until=jp.era_date_decode(matters[jp.LICENCE_TAG_VALID_UNTIL]),
        document_number=matters[jp.LICENCE_TAG_NUMBER].decode("ascii"),
    )


def _signer(key_id: bytes, anchors: ChipAnchors) -> tuple[x509.Certificate | None, PublicKeyTypes, bool]:
    """(certificate or None for a published key, key, is_test) of the signer that EF07 names."""
    for certificate, is_test in anchors.certificates(ChipKind.driving_licence):
        if is_ca(certificate):
            continue
        try:
            ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            ski = x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest
        if ski == key_id:
            return certificate, certificate.public_key(), is_test
    for key, is_test in anchors.public_keys(ChipKind.driving_licence):
        try:
            published = x509.SubjectKeyIdentifier.from_public_key(key).digest  # type: ignore[arg-type]
        except TypeError:
            continue
        if published == key_id:
            return None, key, is_test
    raise Refused("issuer_chain", ChipRefusal.unknown_issuer, "no configured licence signer has this key id")


@register(ChipKind.driving_licence)
def verify_licence(objects: Mapping[str, bytes], anchors: ChipAnchors, now: dt.datetime) -> ChipVerification:
    """Verify an IC driving licence's signed objects (LICENCE_OBJECTS) at `now`."""
    result = ChipVerification(ChipKind.driving_licence)
    try:
        matters = _tags(objects["df1_ef01"])
        signature = _tags(objects["df1_ef07"])
        photo = _tags(objects["df2_ef01"])[jp.LICENCE_TAG_PHOTO]
        fields = _fields(matters)
        key_id, value = signature[jp.LICENCE_TAG_SIG_KEY_ID], signature[jp.LICENCE_TAG_SIG_VALUE]
    except (KeyError, TlvError, ValueError, UnicodeDecodeError) as exc:
        result.failed("structure", ChipRefusal.malformed, f"{type(exc).__name__}: {str(exc)[:120]}")
        return result
    result.passed("structure", f"spec {jp.LICENCE_SPEC_VERSION}")
    result.fields, result.photo, result.photo_content_type = fields, photo, "image/jp2"
    try:
        certificate, key, is_test = _signer(key_id, anchors)
        root = None
        if certificate is not None:
            root, root_is_test = issuing_root(certificate, anchors, KINDS)
            is_test = is_test or root_is_test
        result.passed(
            "issuer_chain", "test_anchor" if is_test else ("published_key" if root is None else None)
        )
    except Refused as refused:
        result.failed(refused.check, refused.reason, refused.detail)
        return result
    if rsa_sha256_holds(key, value, objects["df1_ef01"] + objects["df2_ef01"]):
        result.passed("signature", "RSA PKCS#1 v1.5 SHA-256 over DF1/EF01 ‖ DF2/EF01")
    else:
        result.failed(
            "signature", ChipRefusal.signature_invalid, "the signature does not hold over EF01 ‖ photo"
        )
    if certificate is not None and root is not None:
        if within(certificate, now) and within(root, now):
            result.passed("signer_validity")
        else:
            result.failed("signer_validity", ChipRefusal.signer_expired, "outside its validity period")
        try:
            result.passed("signer_revocation", revocation(certificate, root, anchors, KINDS, now))
        except Refused as refused:
            result.failed(refused.check, refused.reason, refused.detail)
    if fields.valid_until is not None and fields.valid_until >= tokyo_today(now):
        result.passed("document_validity")
    else:
        result.failed("document_validity", ChipRefusal.document_expired, "past 有効期間の末日")
    return result
