"""The passport verifier: passive authentication of an eMRTD (ICAO Doc 9303 part 11 §5, part 10 §4.6).

EF.SOD is CMS SignedData whose content is the LDS Security Object (the data groups' digests), signed by a document
signer certificate that a CSCA issued. The verifier checks the signature over the signed attributes, the document
signer against the configured CSCAs (validity, CRL), each data group's digest, the MRZ's check digits and the
passport's own expiry; every failure is a named check (docs/id-documents.md §Passport).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from service.idchips.anchors import ChipAnchors
from service.idchips.mrz import MrzError, Td3, parse_td3, yymmdd
from service.idchips.tlv import TlvError, find_tlv, read_tlv
from service.idchips.verifiers import ChipFields, ChipVerification, register
from service.wire.idchips import PASSPORT_OBJECTS, ChipKind, ChipRefusal

LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"  # id-icao-mrtd-security-ldsSecurityObject
DG_TAGS = {1: 0x61, 2: 0x75}
DG_NUMBERS = {"DG1": 1, "DG2": 2}
_DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class DataGroupHash(core.Sequence):  # type: ignore[misc]
    _fields = [("data_group_number", core.Integer), ("data_group_hash_value", core.OctetString)]  # noqa: RUF012


class DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = DataGroupHash


class LdsVersionInfo(core.Sequence):  # type: ignore[misc]
    _fields = [("lds_version", core.PrintableString), ("unicode_version", core.PrintableString)]  # noqa: RUF012


class LdsSecurityObject(core.Sequence):  # type: ignore[misc]
    """LDSSecurityObject (9303 part 10 §4.6.2.2)."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LdsVersionInfo, {"optional": True}),
    ]


class _Refused(Exception):
    def __init__(self, check: str, reason: ChipRefusal, detail: str) -> None:
        super().__init__(detail)
        self.check, self.reason, self.detail = check, reason, detail


def mask_document_number(number: str) -> str:
    """All but the last three characters hidden: enough for the officer to compare with the printed page."""
    return "*" * max(len(number) - 3, 0) + number[-3:]


def _hash(name: str, data: bytes) -> bytes:
    digest = hashes.Hash(_DIGESTS[name]())
    digest.update(data)
    return digest.finalize()


def _verify_signature(
    key: PublicKeyTypes, algorithm: cms.SignedDigestAlgorithm, digest: str, data: bytes, sig: bytes
) -> None:
    hash_algorithm = _DIGESTS[digest]()
    name = algorithm.signature_algo
    if isinstance(key, rsa.RSAPublicKey) and name == "rsassa_pss":
        params = algorithm["parameters"]
        pss_hash = _DIGESTS[params["hash_algorithm"]["algorithm"].native]()
        mgf = padding.MGF1(_DIGESTS[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]())
        key.verify(sig, data, padding.PSS(mgf, params["salt_length"].native), pss_hash)
    elif isinstance(key, rsa.RSAPublicKey) and name == "rsassa_pkcs1v15":
        key.verify(sig, data, padding.PKCS1v15(), hash_algorithm)
    elif isinstance(key, ec.EllipticCurvePublicKey) and name == "ecdsa":
        key.verify(sig, data, ec.ECDSA(hash_algorithm))
    else:
        raise InvalidSignature(f"unsupported signature algorithm {name}")


def _parse_sod(sod: bytes) -> tuple[cms.SignedData, LdsSecurityObject, bytes]:
    tag, value, _ = read_tlv(sod)
    if tag != 0x77:
        raise TlvError(f"EF.SOD tag {tag:X}, not 77")
    info = cms.ContentInfo.load(value)
    if info["content_type"].native != "signed_data":
        raise ValueError("EF.SOD is not SignedData")
    signed: cms.SignedData = info["content"]
    encap = signed["encap_content_info"]
    if encap["content_type"].dotted != LDS_SECURITY_OBJECT_OID:
        raise ValueError("EF.SOD does not hold an LDS Security Object")
    content = encap["content"].native
    if not isinstance(content, bytes):
        raise ValueError("EF.SOD has no encapsulated content")
    security_object = LdsSecurityObject.load(content)
    security_object.native  # noqa: B018 -- parse it all now, so a malformed object fails here and not later
    return signed, security_object, content


def _signer(signed: cms.SignedData) -> tuple[cms.SignerInfo, x509.Certificate]:
    infos = signed["signer_infos"]
    if len(infos) != 1:
        raise ValueError(f"{len(infos)} signer infos, expected one")
    info = infos[0]
    sid = info["sid"]
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        candidate = choice.chosen
        tbs = candidate["tbs_certificate"]
        if sid.name == "issuer_and_serial_number":
            matches = (
                tbs["issuer"] == sid.chosen["issuer"]
                and tbs["serial_number"].native == sid.chosen["serial_number"].native
            )
        else:
            matches = candidate.key_identifier == sid.chosen.native
        if matches:
            return info, x509.load_der_x509_certificate(candidate.dump())
    raise ValueError("EF.SOD does not carry its document signer certificate")


def _check_signature(info: cms.SignerInfo, content: bytes, signer: x509.Certificate) -> None:
    digest = info["digest_algorithm"]["algorithm"].native
    attrs = info["signed_attrs"]
    if not attrs:
        raise _Refused("signature", ChipRefusal.signature_invalid, "no signed attributes")
    found = {a["type"].native: a["values"][0].native for a in attrs}
    if found.get("content_type") != LDS_SECURITY_OBJECT_OID:
        raise _Refused("signature", ChipRefusal.signature_invalid, "content type attribute differs")
    if found.get("message_digest") != _hash(digest, content):
        raise _Refused("signature", ChipRefusal.signature_invalid, "message digest differs from the content")
    # The signature covers the DER of the attributes as a SET OF (tag 31), not their [0] IMPLICIT form.
    signed_bytes = b"\x31" + attrs.dump()[1:]
    try:
        _verify_signature(
            signer.public_key(), info["signature_algorithm"], digest, signed_bytes, info["signature"].native
        )
    except (InvalidSignature, KeyError, TypeError) as exc:
        raise _Refused("signature", ChipRefusal.signature_invalid, "signature does not verify") from exc


def _issuer(signer: x509.Certificate, anchors: ChipAnchors) -> tuple[x509.Certificate, bool]:
    for csca, is_test in anchors.certificates(ChipKind.passport):
        try:
            signer.verify_directly_issued_by(csca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return csca, is_test
    raise _Refused(
        "issuer_chain", ChipRefusal.unknown_issuer, "no configured CSCA issued the document signer"
    )


def _within(certificate: x509.Certificate, at: dt.datetime) -> bool:
    return certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc


def _revoked(signer: x509.Certificate, csca: x509.Certificate, anchors: ChipAnchors, at: dt.datetime) -> str:
    """Which CRL evidence there is: a current CRL of this CSCA ("crl"), only stale ones, or none configured."""
    checked, stale = False, False
    for crl in anchors.crls(ChipKind.passport):
        if crl.issuer != csca.subject or not crl.is_signature_valid(csca.public_key()):  # type: ignore[arg-type]
            continue
        # A revocation listed on a stale CRL still counts; an empty stale CRL proves nothing about today.
        if crl.get_revoked_certificate_by_serial_number(signer.serial_number) is not None:
            raise _Refused("signer_revocation", ChipRefusal.signer_revoked, "the CSCA's CRL lists the signer")
        if crl.next_update_utc is not None and crl.next_update_utc < at:
            stale = True
            continue
        checked = True
    return "crl" if checked else ("crl_stale" if stale else "no_crl_configured")


def _photo(dg2: bytes) -> tuple[bytes, str]:
    """The face image of DG2's first biometric data block (ISO/IEC 19794-5 record inside 5F2E or 7F2E)."""
    group = find_tlv(dg2, 0x75, 0x7F61, 0x7F60)
    try:
        block = find_tlv(group, 0x5F2E)
    except TlvError:
        block = find_tlv(group, 0x7F2E)
    if block[:4] != b"FAC\x00":
        raise TlvError("DG2 biometric data block is not an ISO/IEC 19794-5 facial record")
    # General header 14 bytes, facial record header 20 (feature points counted at its bytes 4-5, 8 bytes each),
    # image information 12 bytes (data type at its byte 1: 0 JPEG, 1 JPEG 2000), then the image.
    record = 14
    points = int.from_bytes(block[record + 4 : record + 6], "big")
    image_info = record + 20 + 8 * points
    data_type = block[image_info + 1]
    image = block[image_info + 12 :]
    return image, ("image/jp2" if data_type == 1 else "image/jpeg")


def _fields(mrz: Td3, today: dt.date) -> ChipFields:
    return ChipFields(
        name=mrz.name,
        birth_date=yymmdd(mrz.birth, future=False, today=today),
        valid_until=yymmdd(mrz.expiry, future=True, today=today),
        document_number=mrz.document_number,
        nationality=mrz.nationality,
    )


@register(ChipKind.passport)
def verify_passport(objects: Mapping[str, bytes], anchors: ChipAnchors, now: dt.datetime) -> ChipVerification:
    """Passive authentication of a passport's DG1, DG2 and EF.SOD; EF.COM is read but unsigned."""
    result = ChipVerification(kind=ChipKind.passport)
    missing = [name for name in PASSPORT_OBJECTS if name != "COM" and name not in objects]
    try:
        if missing:
            raise ValueError(f"missing objects: {', '.join(missing)}")
        signed, security_object, content = _parse_sod(objects["SOD"])
        info, signer = _signer(signed)
        mrz = parse_td3(find_tlv(objects["DG1"], 0x61, 0x5F1F).decode("ascii"))
        photo, photo_type = _photo(objects["DG2"])
    except (TlvError, MrzError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        result.failed("structure", ChipRefusal.malformed, str(exc)[:200])
        return result
    result.passed("structure")
    result.fields = _fields(mrz, now.date())
    result.photo, result.photo_content_type = photo, photo_type
    csca: x509.Certificate | None = None
    try:
        _check_signature(info, content, signer)
        result.passed("signature")
    except _Refused as refused:
        result.failed(refused.check, refused.reason, refused.detail)
    try:
        csca, is_test = _issuer(signer, anchors)
        result.passed("issuer_chain", "test_anchor" if is_test else None)
    except _Refused as refused:
        result.failed(refused.check, refused.reason, refused.detail)
    # A document signer's certificate covers the passports it signed for their whole validity (9303 part 12).
    if not _within(signer, now) or (csca is not None and not _within(csca, now)):
        result.failed("signer_validity", ChipRefusal.signer_expired, "outside its validity period")
    else:
        result.passed("signer_validity")
    if csca is not None:
        try:
            result.passed("signer_revocation", _revoked(signer, csca, anchors, now))
        except _Refused as refused:
            result.failed(refused.check, refused.reason, refused.detail)
    _check_hashes(result, objects, security_object)
    if mrz.check_digits_ok:
        result.passed("check_digits")
    else:
        result.failed("check_digits", ChipRefusal.check_digit, "an MRZ check digit is wrong")
    valid_until = result.fields.valid_until
    if valid_until is not None and valid_until >= now.date():
        result.passed("document_validity")
    else:
        result.failed("document_validity", ChipRefusal.document_expired, "past the date of expiry")
    return result


def _check_hashes(
    result: ChipVerification, objects: Mapping[str, bytes], security_object: LdsSecurityObject
) -> None:
    algorithm = security_object["hash_algorithm"]["algorithm"].native
    if algorithm not in _DIGESTS:
        result.failed("data_hashes", ChipRefusal.malformed, f"unsupported digest {algorithm}")
        return
    signed = {
        h["data_group_number"].native: h["data_group_hash_value"].native
        for h in security_object["data_group_hash_values"]
    }
    for name, number in DG_NUMBERS.items():
        expected = signed.get(number)
        if expected is None:
            result.failed("data_hashes", ChipRefusal.hash_mismatch, f"{name} is not in the security object")
            return
        if _hash(algorithm, objects[name]) != expected:
            result.failed("data_hashes", ChipRefusal.hash_mismatch, f"{name} differs from its signed digest")
            return
    result.passed("data_hashes", f"{algorithm}: DG1, DG2")


__all__ = ["mask_document_number", "verify_passport"]
