"""Optional device mTLS against a real `hub serve` over TLS on 127.0.0.1 (uvicorn, stopped by PID).

The hub serves HTTPS with a server certificate from a test CA, asks clients for a certificate from its device CA,
and under HUB_DEVICE_MTLS=required checks each device request's certificate against its X-Device-Id: the right
certificate passes, none or another device's is refused with a stable problem code, a certificate from a foreign
CA fails the handshake, a revoked device is refused with its certificate, and officers need no certificate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from clerk_agent.link.auth import DeviceAuth, tls_context
from clerk_agent.link.hub import HubLink, HubRefused, hub_http_client
from clerk_agent.link.signaling import HubSignaling
from service.accounts import mtls
from service.config import Environment, Settings
from service.demo import DEMO_MUNICIPALITY
from tests._procs import free_port

pytestmark = pytest.mark.slow
HUB = str(Path(sys.executable).parent / "hub")


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _server_pki(out: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1: (CA cert, server cert, server key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test server CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (out / "server-ca.crt", out / "server.crt", out / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(_pem_key(key))
    return paths


@dataclass
class TlsHub:
    base: str
    server_ca: Path
    data_dir: Path
    device_id: str
    device_key: Path
    certs: Path
    admin_password: str
    officer_password: str


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([HUB, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def tls_hub(fresh_database_url: str, tmp_path: Path) -> Iterator[TlsHub]:
    """The demo tenant, a device certificate from `hub device cert`, and `hub serve` over TLS with mTLS required."""
    data = tmp_path / "hub"
    env = {
        **os.environ,
        "HUB_DATABASE_URL": fresh_database_url,
        "HUB_DATA_DIR": str(data),
        "HUB_ENVIRONMENT": "development",
        "HUB_JLIS_ADAPTER": "off",
    }
    _run(["demo", "--no-serve"], env)
    credentials = json.loads((data / "demo-credentials.json").read_text())
    device_id = str(credentials["device_id"])
    certs = tmp_path / "certs"
    out = _run(["device", "cert", device_id, "--out", str(certs)], env)
    assert device_id in out
    server_ca, server_cert, server_key = _server_pki(tmp_path)
    port = free_port()
    log = tmp_path / "hub.log"
    tls = ["--tls-cert", str(server_cert), "--tls-key", str(server_key), "--device-mtls", "required"]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [HUB, "serve", "--port", str(port), *tls],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (
                    httpx.get(f"{base}/healthz", verify=tls_context(ca_file=server_ca), timeout=1).status_code
                    == 200
                ):
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"hub did not come up over TLS:\n{log.read_text()}")
            time.sleep(0.2)
        logins = credentials["logins"]
        yield TlsHub(
            base,
            server_ca,
            data,
            device_id,
            data / "demo-device.key",
            certs,
            logins["demo-admin"],
            logins["demo-officer"],
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _device_client(hub: TlsHub, cert: Path | None, key: Path | None) -> httpx.AsyncClient:
    auth = DeviceAuth.from_pem_file(hub.device_id, hub.device_key)
    return hub_http_client(hub.base, auth, ca_file=hub.server_ca, cert_file=cert, key_file=key)


async def _login(hub: TlsHub, username: str, password: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=hub.base, verify=tls_context(ca_file=hub.server_ca)) as client:
        response = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_device_requests_need_their_own_certificate(tls_hub: TlsHub, tmp_path: Path) -> None:
    own_cert, own_key = tls_hub.certs / f"{tls_hub.device_id}.crt", tls_hub.certs / f"{tls_hub.device_id}.key"
    # The right certificate: the agent's hub link works as usual.
    async with _device_client(tls_hub, own_cert, own_key) as http:
        me = await HubLink(http).request("GET", "/api/v1/devices/me", retry=False)
        assert me["id"] == tls_hub.device_id
    # No certificate: a clear refusal, not a handshake error.
    async with _device_client(tls_hub, None, None) as http:
        refused = await http.get("/api/v1/devices/me")
    assert refused.status_code == 401
    assert refused.json()["code"] == "device_certificate_required"
    # Another device's certificate from the same device CA.
    settings = Settings(environment=Environment.development, data_dir=tls_hub.data_dir)
    other_key, other_cert = mtls.issue_device_certificate(mtls.load_ca(settings), "dev_someone_else")
    (tmp_path / "other.key").write_bytes(other_key)
    (tmp_path / "other.crt").write_bytes(other_cert)
    async with _device_client(tls_hub, tmp_path / "other.crt", tmp_path / "other.key") as http:
        with pytest.raises(HubRefused) as mismatch:
            await HubLink(http).request("GET", "/api/v1/devices/me", retry=False)
    assert (mismatch.value.status, mismatch.value.problem_code) == (401, "device_certificate_mismatch")
    # A certificate from a foreign CA naming this device: the TLS handshake itself fails.
    foreign = mtls.create_ca(tmp_path / "foreign-ca")
    forged_key, forged_cert = mtls.issue_device_certificate(foreign, tls_hub.device_id)
    (tmp_path / "forged.key").write_bytes(forged_key)
    (tmp_path / "forged.crt").write_bytes(forged_cert)
    async with _device_client(tls_hub, tmp_path / "forged.crt", tmp_path / "forged.key") as http:
        with pytest.raises(httpx.TransportError):
            await http.get("/api/v1/devices/me")
    # Officers' browsers present no certificate and are not affected.
    officer = await _login(tls_hub, "demo-officer", tls_hub.officer_password)
    async with httpx.AsyncClient(
        base_url=tls_hub.base, verify=tls_context(ca_file=tls_hub.server_ca)
    ) as client:
        assert (await client.get("/api/v1/auth/me", headers=officer)).status_code == 200
        # A revoked device is refused even with its own certificate.
        admin = await _login(tls_hub, "demo-admin", tls_hub.admin_password)
        revoked = await client.post(f"/api/v1/devices/{tls_hub.device_id}/revoke", headers=admin)
        assert revoked.status_code == 200, revoked.text
    async with _device_client(tls_hub, own_cert, own_key) as http:
        after = await http.get("/api/v1/devices/me")
    assert after.status_code == 401, after.text


def test_device_certificates_name_their_device(tmp_path: Path) -> None:
    ca = mtls.create_ca(tmp_path / "ca")
    _, cert = mtls.issue_device_certificate(ca, "dev_abc")
    assert mtls.device_id_of(cert.decode()) == "dev_abc"
    assert mtls.device_id_of("not a certificate") is None
    scope: dict[str, object] = {"extensions": {"tls": {"client_cert_chain": [cert.decode()]}}}
    mtls.check_device_certificate(scope, "dev_abc", "required")
    with pytest.raises(mtls.DeviceCertificateMismatch):
        mtls.check_device_certificate(scope, "dev_other", "optional")
    with pytest.raises(mtls.DeviceCertificateRequired):
        mtls.check_device_certificate({}, "dev_abc", "required")
    mtls.check_device_certificate({}, "dev_abc", "optional")
    mtls.check_device_certificate(scope, "dev_other", "off")


async def test_the_signaling_socket_uses_the_hub_links_tls(tls_hub: TlsHub) -> None:
    """wss:// trusts the same private CA and presents the same device certificate as the REST calls."""
    own_cert, own_key = tls_hub.certs / f"{tls_hub.device_id}.crt", tls_hub.certs / f"{tls_hub.device_id}.key"
    async with _device_client(tls_hub, own_cert, own_key) as http:
        link = HubLink(http)
        case = await link.request(
            "POST",
            "/api/v1/cases",
            {"municipality_code": DEMO_MUNICIPALITY[0], "procedure": "pin_reset"},
            retry=False,
        )
        signaling = HubSignaling(http, str(case["id"]), role="clerk")
        try:
            joined = await signaling.connect()
        finally:
            await signaling.close()
    assert joined.room == case["id"]
