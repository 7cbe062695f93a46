"""The municipality's PAdES signature on every certificate, and its check on an uploaded PDF (pyHanko).

Each municipality's certificate system signs with its own key, certified by a document-signing root (in development
and tests the `hub dev-pki` municipal root, shaped like an LGPKI 組織認証局). Several hub replicas load the same root
and so produce signatures one verifier accepts (docs/certificates.md §Signature).
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from service.cardproof.devpki import MUNICIPAL_ROOT_NAME, Authority, make_root, new_rsa_key
from service.wire.certificates import PDF_BINDING_KEY

ROOT_CERT = "trust/municipal-root.pem"
ROOT_KEY = "private/municipal-root.key.pem"


class _LoadedKeySigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner re-parses its DER key for every signature (~170 ms, key checks); sign with one loaded key."""

    def __init__(self, key: rsa.RSAPrivateKey, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._key = key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        return self._key.sign(data, padding.PKCS1v15(), _HASHES[digest_algorithm])


_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
# Room for the CMS container: two certificates and an RSA-2048 signature fit well within it.
_SIGNATURE_BYTES = 16_384


@dataclass(frozen=True)
class MunicipalSigner:
    """One municipality's certificate-system key and certificate, as pyHanko signs with them."""

    municipality_code: str
    signer: signers.SimpleSigner
    certificate: x509.Certificate


def load_root(directory: Path) -> Authority | None:
    """The municipal root in a `hub dev-pki` directory (or a generated one), if it holds one."""
    cert_path, key_path = directory / ROOT_CERT, directory / ROOT_KEY
    if not cert_path.exists() or not key_path.exists():
        return None
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{key_path} is not an RSA key")
    return Authority(x509.load_pem_x509_certificate(cert_path.read_bytes()), key)


def generate_root(directory: Path) -> Authority:
    """A development-only municipal root written to `directory` (kept, so restarts verify earlier copies)."""
    now = dt.datetime.now(dt.UTC)
    root = make_root(
        MUNICIPAL_ROOT_NAME, not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=3650)
    )
    (directory / "trust").mkdir(parents=True, exist_ok=True)
    (directory / "private").mkdir(parents=True, exist_ok=True)
    (directory / ROOT_CERT).write_bytes(root.certificate.public_bytes(serialization.Encoding.PEM))
    key_path = directory / ROOT_KEY
    key_path.write_bytes(
        root.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return root


def _signer_certificate(root: Authority, key: rsa.RSAPrivateKey, code: str, name: str) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    organization = root.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(organization)),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, code),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name} 証明書交付システム"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=365), root.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()), critical=False
        )
        .sign(root.key, hashes.SHA256())
    )


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class SigningAuthority:
    """The root and the per-municipality signers made from it (one key per municipality and process)."""

    def __init__(self, root: Authority) -> None:
        self.root = root
        self._signers: dict[str, MunicipalSigner] = {}
        self._lock = threading.Lock()

    def signer_for(self, code: str, name: str) -> MunicipalSigner:
        """The municipality's signer, made on first use."""
        with self._lock:
            found = self._signers.get(code)
            if found is None:
                key = new_rsa_key()
                cert = _signer_certificate(self.root, key, code, name)
                pkcs8 = key.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                signer = _LoadedKeySigner(
                    key,
                    signing_cert=_asn1_cert(cert),
                    signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
                    cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(self.root.certificate)]),  # type: ignore[no-untyped-call]
                )
                found = MunicipalSigner(code, signer, cert)
                self._signers[code] = found
            return found

    async def sign(self, pdf: bytes, signer: MunicipalSigner, *, reason: str, binding: str) -> bytes:
        """A PAdES (B-B) signature over the whole PDF, as an incremental update that also writes the binding into
        the document information (service/wire/certificates.py PDF_BINDING_KEY), so the signature covers it."""
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        info = writer.trailer["/Info"]
        info[generic.NameObject(PDF_BINDING_KEY)] = generic.TextStringObject(binding)
        writer.update_container(info)
        meta = signers.PdfSignatureMetadata(
            field_name="MunicipalSignature",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=reason,
            location=signer.municipality_code,
        )
        out = await signers.PdfSigner(meta, signer=signer.signer).async_sign_pdf(
            writer, bytes_reserved=_SIGNATURE_BYTES
        )
        if not isinstance(out, io.BytesIO):
            raise TypeError("pyHanko wrote the signed PDF elsewhere")
        return out.getvalue()

    async def check(self, pdf: bytes) -> bool:
        """Whether the PDF carries one intact, trusted municipal signature covering the whole file."""
        try:
            reader = PdfFileReader(io.BytesIO(pdf), strict=False)
            embedded = reader.embedded_signatures
            if len(embedded) != 1:
                return False
            status = await async_validate_pdf_signature(
                embedded[0],
                signer_validation_context=ValidationContext(trust_roots=[_asn1_cert(self.root.certificate)]),
            )
        except Exception:
            # Whatever a malformed upload makes the parser raise, the answer is the same: not a genuine copy.
            return False
        return bool(
            status.intact
            and status.valid
            and status.trusted
            and status.coverage is SignatureCoverageLevel.ENTIRE_FILE
        )


def embedded_binding(pdf: bytes) -> str | None:
    """The binding text a PDF's document information carries (what the print station checks), if any."""
    try:
        value = PdfFileReader(io.BytesIO(pdf), strict=False).trailer["/Info"].get(PDF_BINDING_KEY)
    except Exception:
        return None
    return str(value) if value is not None else None
