"""The residence card and special permanent resident certificate verifier (在留カード等仕様書 Ver 1.5;
docs/id-documents.md §Japanese).

DF3/EF01 電子署名 holds the check code (チェックコード: RSA PKCS#1 v1.5 SHA-256 over 券面(表)イメージ ‖ 顔画像) and the
X.509 certificate of the key that made it. The hub checks the check code under that certificate, the certificate
against the configured roots of the Immigration Services Agency (validity, CRL), and that MF/EF02 カード種別 is the
kind the counter declared. The chip carries no structured name, birth date or expiry: the officer reads them off
the signed card-face image, so the document's own validity is not a check here (its certificate's is).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from cryptography import x509

from service.idchips.anchors import ChipAnchors
from service.idchips.jp_trust import Refused, issuing_root, revocation, rsa_sha256_holds, within
from service.idchips.tlv import TlvError, iter_tlv
from service.idchips.verifiers import ChipVerification, register
from service.wire import idchips_jp as jp
from service.wire.idchips import ChipKind, ChipRefusal

# Both kinds come from the same agency; an anchor configured under either folder counts for both.
KINDS = (ChipKind.residence_card, ChipKind.special_permanent_resident)


def _only(data: bytes, tag: int) -> bytes:
    found = dict(iter_tlv(data))
    return found[tag]


def _verify(
    kind: ChipKind, objects: Mapping[str, bytes], anchors: ChipAnchors, now: dt.datetime
) -> ChipVerification:
    result = ChipVerification(kind)
    try:
        card_type = _only(objects["mf_ef02"], jp.RESIDENCE_TAG_CARD_TYPE).decode("ascii")
        face = _only(objects["df1_ef01"], jp.RESIDENCE_TAG_CARD_FACE)
        photo = _only(objects["df1_ef02"], jp.RESIDENCE_TAG_PHOTO)
        signature = dict(iter_tlv(objects["df3_ef01"]))
        check_code = signature[jp.RESIDENCE_TAG_CHECK_CODE]
        certificate = x509.load_der_x509_certificate(signature[jp.RESIDENCE_TAG_CERTIFICATE])
    except (KeyError, TlvError, ValueError, UnicodeDecodeError) as exc:
        result.failed("structure", ChipRefusal.malformed, f"{type(exc).__name__}: {str(exc)[:120]}")
        return result
    if jp.RESIDENCE_CARD_TYPES.get(card_type) != kind.value:
        result.failed("structure", ChipRefusal.malformed, "カード種別 differs from the declared kind")
        return result
    result.passed("structure", f"spec {jp.RESIDENCE_SPEC_VERSION}")
    result.photo, result.photo_content_type = photo, "image/jp2"
    result.card_face = face  # the officer reads name, birth date and expiry off this signed image
    if rsa_sha256_holds(certificate.public_key(), check_code, face + photo):
        result.passed("signature", "check code over card-face image ‖ photo")
    else:
        result.failed("signature", ChipRefusal.signature_invalid, "the check code does not hold")
    try:
        root, is_test = issuing_root(certificate, anchors, KINDS)
        result.passed("issuer_chain", "test_anchor" if is_test else None)
    except Refused as refused:
        result.failed(refused.check, refused.reason, refused.detail)
        return result
    if within(certificate, now) and within(root, now):
        result.passed("signer_validity")
    else:
        result.failed("signer_validity", ChipRefusal.signer_expired, "outside its validity period")
    try:
        result.passed("signer_revocation", revocation(certificate, root, anchors, KINDS, now))
    except Refused as refused:
        result.failed(refused.check, refused.reason, refused.detail)
    return result


@register(ChipKind.residence_card)
def verify_residence_card(
    objects: Mapping[str, bytes], anchors: ChipAnchors, now: dt.datetime
) -> ChipVerification:
    """Verify a residence card's signed objects (RESIDENCE_OBJECTS) at `now`."""
    return _verify(ChipKind.residence_card, objects, anchors, now)


@register(ChipKind.special_permanent_resident)
def verify_special_permanent_resident(
    objects: Mapping[str, bytes], anchors: ChipAnchors, now: dt.datetime
) -> ChipVerification:
    """Verify a special permanent resident certificate's signed objects at `now`."""
    return _verify(ChipKind.special_permanent_resident, objects, anchors, now)
