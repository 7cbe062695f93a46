"""httpx authentication that signs every request with the device's Ed25519 key."""

from __future__ import annotations

import secrets
import ssl
import time
from collections.abc import Callable, Generator
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from service.wire import device_auth


class DeviceAuth(httpx.Auth):
    """Signs method, path, timestamp, a fresh nonce and the body hash (service/wire/device_auth.py)."""

    requires_request_body = True

    def __init__(
        self, device_id: str, key: Ed25519PrivateKey, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.device_id = device_id
        self._key = key
        self._clock = clock

    @classmethod
    def from_pem_file(cls, device_id: str, path: Path) -> DeviceAuth:
        """Load the device key from a PEM file (PKCS#8, unencrypted, mode 0600)."""
        key = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(device_id, key)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the four signature headers."""
        headers = device_auth.sign_headers(
            self._key,
            device_id=self.device_id,
            method=request.method,
            # The target as it goes on the wire, in the one canonical form the hub checks (escapes kept).
            path_and_query=device_auth.canonical_target(request.url.raw_path.decode("ascii")),
            timestamp=int(self._clock()),
            nonce=secrets.token_urlsafe(18),
            body=request.content,
        )
        request.headers.update(headers)
        yield request


def tls_context(
    *, ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """TLS to the hub: trust `ca_file` (else the system store) and present the device's client certificate (mTLS)."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if cert_file is not None:
        context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    return context
