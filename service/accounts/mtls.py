"""Optional mutual TLS for clerk-agent devices: the hub's device CA, device client certificates, and the check.

`hub serve` with TLS asks every client for a certificate (CERT_OPTIONAL, so officers' browsers need none) and trusts
the device CA for them. With HUB_DEVICE_MTLS=optional a device request that presents a certificate must present its
own; with `required` it must present one. The certificate names the device in its subject CN and in a SAN URI
`urn:madoguchi:device:<id>`; a request signed as one device with another device's certificate is refused
(`device_certificate_mismatch`), one without a certificate under `required` too (`device_certificate_required`).
A revoked device stays refused whatever certificate it holds (its signature no longer authenticates).

The development CA is generated in DATA_DIR/device-ca (like the test PKI); production configures
HUB_DEVICE_CA_CERT_FILE (and HUB_DEVICE_CA_KEY_FILE where the hub issues certificates).
"""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from service.config import Environment, Settings
from service.errors import Unauthenticated
from service.kit import clock

DEVICE_URI_PREFIX = "urn:madoguchi:device:"


class DeviceCertificateRequired(Unauthenticated):
    code = "device_certificate_required"
    title = "This hub requires the device's client certificate (mTLS)"


class DeviceCertificateMismatch(Unauthenticated):
    code = "device_certificate_mismatch"
    title = "The client certificate belongs to another device"


@dataclass(frozen=True)
class DeviceCA:
    """The device CA's certificate, and its key where this hub issues device certificates."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey | None
    cert_file: Path


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_bytes(data)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "madoguchi-bridge"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def create_ca(directory: Path, *, days: int = 3650) -> DeviceCA:
    """A new device CA (EC P-256) in `directory` (ca.crt, ca.key mode 0600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = clock.now()
    name = _name("madoguchi-bridge device CA")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "ca.crt"
    _write_private(
        directory / "ca.key",
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return DeviceCA(certificate, key, cert_file)


def load_ca(settings: Settings) -> DeviceCA:
    """The configured device CA; outside production one is generated in DATA_DIR/device-ca on first use."""
    cert_file, key_file = settings.device_ca_cert_file, settings.device_ca_key_file
    if cert_file is None:
        if settings.environment is Environment.production:
            raise ValueError("device mTLS in production needs HUB_DEVICE_CA_CERT_FILE")
        directory = settings.data_dir / "device-ca"
        cert_file, key_file = directory / "ca.crt", directory / "ca.key"
        if not cert_file.exists():
            return create_ca(directory)
    certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    key = None
    if key_file is not None and key_file.exists():
        loaded = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_file} is not an EC private key")
        key = loaded
    return DeviceCA(certificate, key, cert_file)


def issue_device_certificate(ca: DeviceCA, device_id: str, *, days: int = 397) -> tuple[bytes, bytes]:
    """A client certificate for `device_id` with a fresh key: (key PEM, certificate PEM)."""
    if ca.key is None:
        raise ValueError(
            "this hub holds no device CA key (HUB_DEVICE_CA_KEY_FILE); it cannot issue certificates"
        )
    key = ec.generate_private_key(ec.SECP256R1())
    now = clock.now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(device_id))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=days), ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(DEVICE_URI_PREFIX + device_id)]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


def device_id_of(certificate_pem: str) -> str | None:
    """The device a client certificate names (SAN URI, else subject CN), or None."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError:
        return None
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
            if uri.startswith(DEVICE_URI_PREFIX):
                return uri.removeprefix(DEVICE_URI_PREFIX)
    except x509.ExtensionNotFound:
        pass
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def client_certificate(scope: Scope) -> str | None:
    """The verified client certificate of this connection (PEM), from the ASGI TLS extension."""
    chain = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
    return str(chain[0]) if chain else None


def check_device_certificate(scope: Scope, device_id: str, mode: str) -> None:
    """Refuse a device request whose connection's certificate is missing (mode `required`) or names another device."""
    if mode == "off":
        return
    pem = client_certificate(scope)
    if pem is None:
        if mode == "required":
            raise DeviceCertificateRequired("present the device's client certificate (mTLS)")
        return
    if device_id_of(pem) != device_id:
        raise DeviceCertificateMismatch("the TLS client certificate names another device than X-Device-Id")


# --- serving: uvicorn with a client-certificate-aware HTTP protocol --------------------------------------------


class ClientCertH11Protocol(H11Protocol):
    """uvicorn's h11 protocol that hands the verified client certificate to the app (ASGI TLS extension)."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der:
            self.app = _WithClientCert(self.app, ssl.DER_cert_to_PEM_cert(der))


class _WithClientCert:
    def __init__(self, app: ASGIApp, pem: str) -> None:
        self.app = app
        self.pem = pem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extensions = dict(scope.get("extensions") or {})
        extensions["tls"] = {**extensions.get("tls", {}), "client_cert_chain": [self.pem]}
        await self.app({**scope, "extensions": extensions}, receive, send)


def uvicorn_tls_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config keyword arguments for TLS (none when the hub serves plain HTTP)."""
    if settings.tls_cert_file is None:
        if settings.device_mtls != "off":
            raise ValueError("HUB_DEVICE_MTLS needs TLS: set HUB_TLS_CERT_FILE and HUB_TLS_KEY_FILE")
        return {}
    options: dict[str, Any] = {
        "ssl_certfile": str(settings.tls_cert_file),
        "ssl_keyfile": str(settings.tls_key_file) if settings.tls_key_file else None,
    }
    if settings.device_mtls != "off":
        client_ca = settings.tls_client_ca_file or load_ca(settings).cert_file
        # Optional at the TLS layer: officers' browsers have no certificate; the app decides per device request.
        options.update(
            ssl_ca_certs=str(client_ca), ssl_cert_reqs=ssl.CERT_OPTIONAL, http=ClientCertH11Protocol
        )
    return options
