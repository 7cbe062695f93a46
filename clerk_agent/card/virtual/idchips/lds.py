"""Builds a passport's LDS1 files as ICAO Doc 9303 part 10 gives them: EF.COM, DG1 (MRZ), DG2 (face), EF.SOD.

The data groups of an invented holder, and EF.SOD: CMS SignedData over the LDS Security Object (SHA-256 digests of
DG1 and DG2), signed with ECDSA by a document signer whose certificate travels inside (docs/id-documents.md
§Virtual). `tamper` changes a data group after signing, for the tests of altered data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clerk_agent.card.apdu import encode_tlv
from clerk_agent.card.idchips.sm import mrz_information
from clerk_agent.photo.faces import look_of, portrait
from service.wire.mrz import check_digit

LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"


class DataGroupHash(core.Sequence):  # type: ignore[misc]
    _fields = [("data_group_number", core.Integer), ("data_group_hash_value", core.OctetString)]  # noqa: RUF012


class DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = DataGroupHash


class LdsSecurityObject(core.Sequence):  # type: ignore[misc]
    """LDSSecurityObject version 0 (9303 part 10 §4.6.2.2)."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
    ]


@dataclass(frozen=True)
class PassportHolder:
    """An invented passport holder; the MRZ's fields in their printed form."""

    key: str  # the virtual person whose face is drawn (clerk_agent/photo/faces.py)
    surname: str
    given_names: str
    document_number: str
    nationality: str
    birth_date: dt.date
    sex: str  # F, M or <
    expiry: dt.date
    issuer: str = "JPN"

    @property
    def birth(self) -> str:
        return self.birth_date.strftime("%y%m%d")

    @property
    def expiry_yymmdd(self) -> str:
        return self.expiry.strftime("%y%m%d")

    def mrz(self) -> str:
        """The 88 characters of the TD3 MRZ (9303 part 4 §4.2)."""
        name = f"{self.surname}<<{self.given_names.replace(' ', '<')}"
        line1 = f"P<{self.issuer}{name}".ljust(44, "<")[:44]
        info = mrz_information(self.document_number, self.birth, self.expiry_yymmdd)
        number_cd, birth_cd, expiry_cd = info[:10], info[10:17], info[17:24]
        optional = "<" * 14
        optional_cd = "0"
        line2 = number_cd + self.nationality + birth_cd + self.sex + expiry_cd + optional + optional_cd
        return line1 + line2 + check_digit(line2[0:10] + line2[13:20] + line2[21:43])


# Invented holders, one per virtual My Number Card person, so the camera's face matches the chip photo.
HOLDERS: dict[str, PassportHolder] = {
    "yamada_hanako": PassportHolder(
        key="yamada_hanako",
        surname="YAMADA",
        given_names="HANAKO",
        document_number="ZX0412853",
        nationality="JPN",
        birth_date=dt.date(1985, 4, 12),
        sex="F",
        expiry=dt.date(2033, 9, 30),
    ),
    "sato_taro": PassportHolder(
        key="sato_taro",
        surname="SATO",
        given_names="TARO",
        document_number="ZX7730164",
        nationality="JPN",
        birth_date=dt.date(1992, 11, 3),
        sex="M",
        expiry=dt.date(2031, 2, 14),
    ),
}


def face_jpeg(key: str, size: tuple[int, int] = (240, 320)) -> bytes:
    """The holder's portrait as a colour JPEG, like a passport chip's full-frontal image."""
    out = io.BytesIO()
    portrait(look_of(key), size).convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue()


def build_com() -> bytes:
    """EF.COM: LDS 1.7, Unicode 4.0.0, data groups 1 and 2 present (tags 61, 75)."""
    return encode_tlv(
        0x60,
        encode_tlv(0x5F01, b"0107") + encode_tlv(0x5F36, b"040000") + encode_tlv(0x5C, bytes((0x61, 0x75))),
    )


def build_dg1(holder: PassportHolder) -> bytes:
    """DG1: the MRZ in 5F1F."""
    return encode_tlv(0x61, encode_tlv(0x5F1F, holder.mrz().encode("ascii")))


def facial_record(image: bytes, *, width: int, height: int, jpeg2000: bool = False) -> bytes:
    """An ISO/IEC 19794-5:2005 face record: one face, no feature points, one full-frontal image."""
    # Facial information (20 bytes): block length, feature points 0, then gender, eye and hair colour, feature
    # mask, expression, pose angles and their uncertainty, all "unspecified" (0).
    block_length = 20 + 12 + len(image)
    facial_information = block_length.to_bytes(4, "big") + bytes(2) + bytes(14)
    # Image information (12 bytes): full frontal, JPEG (0) or JPEG 2000 (1), size, 24-bit RGB, digital still.
    image_information = (
        bytes((1, 1 if jpeg2000 else 0))
        + width.to_bytes(2, "big")
        + height.to_bytes(2, "big")
        + bytes((1, 2))
        + bytes(4)
    )
    record = facial_information + image_information + image
    general_header = b"FAC\x00" + b"010\x00" + (14 + len(record)).to_bytes(4, "big") + (1).to_bytes(2, "big")
    return general_header + record


def build_dg2(holder: PassportHolder, photo: bytes | None = None) -> bytes:
    """DG2: one biometric information template with the face record in 5F2E."""
    photo = photo if photo is not None else face_jpeg(holder.key)
    header = encode_tlv(
        0xA1, encode_tlv(0x80, b"\x01\x01") + encode_tlv(0x81, b"\x02") + encode_tlv(0x87, b"\x01\x01")
    )
    template = encode_tlv(0x7F60, header + encode_tlv(0x5F2E, facial_record(photo, width=240, height=320)))
    return encode_tlv(0x75, encode_tlv(0x7F61, encode_tlv(0x02, b"\x01") + template))


def build_sod(
    data_groups: dict[int, bytes],
    signer_certificate: x509.Certificate,
    signer_key: ec.EllipticCurvePrivateKey,
) -> bytes:
    """EF.SOD: tag 77 around CMS SignedData of the LDS Security Object, signed with ECDSA-SHA256."""
    security_object = LdsSecurityObject(
        {
            "version": 0,
            "hash_algorithm": {"algorithm": "sha256"},
            "data_group_hash_values": [
                {"data_group_number": n, "data_group_hash_value": hashlib.sha256(dg).digest()}
                for n, dg in sorted(data_groups.items())
            ],
        }
    ).dump()
    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": [LDS_SECURITY_OBJECT_OID]}),
            cms.CMSAttribute(
                {"type": "message_digest", "values": [hashlib.sha256(security_object).digest()]}
            ),
        ]
    )
    signature = signer_key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
    certificate = asn1_x509.Certificate.load(signer_certificate.public_bytes(serialization.Encoding.DER))
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": certificate.issuer,
                        "serial_number": certificate.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": LDS_SECURITY_OBJECT_OID, "content": security_object},
            "certificates": [certificate],
            "signer_infos": [signer_info],
        }
    )
    return encode_tlv(0x77, cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())
