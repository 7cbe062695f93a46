"""The `hub` command as an operator uses it: demo, serve under uvicorn, a case through HTTP, audit verify, tampering."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from PIL import Image
from sqlalchemy import text

from clerk_agent.link.auth import DeviceAuth
from service.db import create_engine
from service.wire.device_auth import b64url_decode
from service.wire.pin_seal import open_sealed, seal
from tests._procs import free_port
from tests.factories import CONSENTS, shinseisho_id

pytestmark = pytest.mark.e2e
HUB = str(Path(sys.executable).parent / "hub")


@pytest.fixture
def hub_env(fresh_database_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment of a hub on a fresh database and data directory."""
    return {
        **os.environ,
        "HUB_DATABASE_URL": fresh_database_url,
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_ENVIRONMENT": "development",
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HUB, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def served_demo(hub_env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """`hub demo` serving on a free port; yields its base URL and environment; stopped by PID."""
    port = free_port()
    proc = subprocess.Popen(
        [HUB, "demo", "--port", str(port)],
        env=hub_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read() if proc.stdout else ""
                raise AssertionError(f"hub demo did not come up:\n{out}")
            time.sleep(0.2)
        yield base, hub_env
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_refuses_unmigrated(hub_env: dict[str, str]) -> None:
    result = _run(["serve", "--port", str(free_port())], hub_env)
    assert result.returncode == 2
    assert "hub db upgrade" in result.stderr


def test_demo_scenario_then_audit_verify_and_tamper(
    served_demo: tuple[str, dict[str, str]], fresh_database_url: str
) -> None:
    base, env = served_demo
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200
    # Started: the startup heap is frozen out of later full collections (docs/capacity.md, #18).
    frozen = [
        float(line.split()[-1])
        for line in httpx.get(f"{base}/metrics").text.splitlines()
        if line.startswith("hub_gc_frozen_objects ")
    ]
    assert len(frozen) == 1
    assert frozen[0] > 10_000
    data_dir = Path(env["HUB_DATA_DIR"])
    creds = json.loads((data_dir / "demo-credentials.json").read_text())
    officer_token = httpx.post(
        f"{base}/api/v1/auth/login",
        json={"username": "demo-officer", "password": creds["logins"]["demo-officer"]},
    ).json()["access_token"]
    device_auth = DeviceAuth.from_pem_file(creds["device_id"], data_dir / "demo-device.key")
    eligible = {
        "applicant_present": True,
        "resident_of_municipality": True,
        "proxy_applicant": False,
        "minor_or_adult_ward": False,
    }
    with (
        httpx.Client(base_url=base, auth=device_auth) as device,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {officer_token}"}) as officer,
    ):
        body = {
            "municipality_code": "999997",
            "procedure": "card_application",
            "shinseisho_id": shinseisho_id(),
        }
        case = device.post("/api/v1/cases", json=body)
        assert case.status_code == 201, case.text
        cid = case.json()["id"]
        for action, payload in (
            ("check-in", {}),
            ("precheck", {"answers": eligible}),
            ("consents", {"consents": CONSENTS}),
            ("request-verification", {}),
        ):
            assert device.post(f"/api/v1/cases/{cid}/{action}", json=payload).status_code == 200, action
        # The officer takes the case the way the console does: available, offered at random, accepted.
        assert officer.put("/api/v1/officers/me/presence", json={"status": "available"}).status_code == 200
        offer = officer.get("/api/v1/officers/me/offer", params={"wait": 10})
        assert offer.status_code == 200, offer.text
        assert offer.json()["case_id"] == cid
        assert officer.post(f"/api/v1/offers/{offer.json()['id']}/accept").status_code == 200
        # The application photo taken at the counter, during the live session.
        photo = io.BytesIO()
        Image.new("RGB", (480, 600), (190, 170, 150)).save(photo, format="JPEG")
        added = device.post(
            f"/api/v1/cases/{cid}/stills",
            params={"kind": "application_photo"},
            content=photo.getvalue(),
            headers={"content-type": "image/jpeg"},
        )
        assert added.status_code == 201, added.text
        for client, action, payload in ((device, "capture-evidence", {}), (officer, "begin-review", {})):
            assert client.post(f"/api/v1/cases/{cid}/{action}", json=payload).status_code == 200, action
        # The console's review: video live, checklist, a random liveness challenge passed.
        assert officer.post(f"/api/v1/cases/{cid}/video-status", json={"state": "live"}).status_code == 200
        checklist = {
            "id_combination": "A2",
            "face_match": True,
            "attributes_match": True,
            "eligibility_confirmed": True,
            "documents_authentic": True,
        }
        assert officer.put(f"/api/v1/cases/{cid}/checklist", json=checklist).status_code == 200
        challenge = officer.post(f"/api/v1/cases/{cid}/liveness-challenges").json()
        assert (
            officer.post(
                f"/api/v1/cases/{cid}/liveness-challenges/{challenge['id']}/result", json={"passed": True}
            ).status_code
            == 200
        )
        approved = officer.post(f"/api/v1/cases/{cid}/approve", json={"attested": True})
        assert approved.status_code == 200, approved.text
        # The applicant's chosen PINs are sealed at the counter to the municipality's key; only its
        # 交付前設定 system (here: the demo's private key file) can open them.
        key = device.get("/api/v1/municipalities/999997/pin-sealing-key").json()
        recipient = X25519PublicKey.from_public_bytes(b64url_decode(key["public_key"]))
        chosen = {
            "sign_password": b"MADO2026X",
            "auth_pin": b"2580",
            "juki_pin": b"1470",
            "kenhojo_pin": b"3690",
        }
        sealed = seal(recipient, case_id=cid, pins={k: bytearray(v) for k, v in chosen.items()})
        finalized = device.post(f"/api/v1/cases/{cid}/pin-request", json={"sealed": sealed.model_dump()})
        assert finalized.status_code == 200, finalized.text
        assert finalized.json()["state"] == "pin_request_sealed"
        private = load_pem_private_key((data_dir / "demo-pin-sealing.key").read_bytes(), password=None)
        assert isinstance(private, X25519PrivateKey)
        assert open_sealed(private, sealed, case_id=cid) == {k: v.decode() for k, v in chosen.items()}

    verified = _run(["audit", "verify"], env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit trail intact" in verified.stdout

    import asyncio

    async def tamper() -> int:
        engine = create_engine(fresh_database_url)
        try:
            async with engine.begin() as conn:
                seq = (
                    await conn.execute(text("SELECT seq FROM audit_event WHERE action = 'case.approve'"))
                ).scalar_one()
                await conn.execute(
                    text("UPDATE audit_event SET actor_role = 'clerk' WHERE action = 'case.approve'")
                )
                return int(seq)
        finally:
            await engine.dispose()

    seq = asyncio.run(tamper())
    broken = _run(["audit", "verify"], env)
    assert broken.returncode == 1
    assert f"BROKEN at seq {seq}" in broken.stdout
    assert "TAMPERED" in broken.stdout


def test_demo_is_rerunnable(hub_env: dict[str, str]) -> None:
    first = _run(["demo", "--no-serve"], hub_env)
    assert first.returncode == 0, first.stderr
    assert "http://127.0.0.1:" in first.stdout
    assert "demo-officer" in first.stdout
    second = _run(["demo", "--no-serve"], hub_env)
    assert second.returncode == 0, second.stderr
    # The same logins are printed again, not new ones.
    pick = [line for line in first.stdout.splitlines() if "demo-officer" in line]
    assert pick
    assert pick[0] in second.stdout


def test_admin_commands(hub_env: dict[str, str]) -> None:
    assert _run(["db", "upgrade"], hub_env).returncode == 0
    demo = _run(["demo", "--no-serve"], hub_env)
    office = json.loads((Path(hub_env["HUB_DATA_DIR"]) / "demo-credentials.json").read_text())[
        "post_office_id"
    ]
    assert demo.returncode == 0
    code = _run(["device", "enroll-code", "--post-office", office, "--name", "窓口2番"], hub_env)
    assert code.returncode == 0
    assert "enrolment code" in code.stdout
    made = _run(
        [
            "account",
            "create",
            "officer-cli",
            "--role",
            "officer",
            "--municipality",
            "999997",
            "--password",
            "a-long-enough-password",
        ],
        hub_env,
    )
    assert made.returncode == 0, made.stderr
    dup = _run(
        [
            "account",
            "create",
            "officer-cli",
            "--role",
            "officer",
            "--municipality",
            "999997",
            "--password",
            "a-long-enough-password",
        ],
        hub_env,
    )
    assert dup.returncode == 1
    assert "username_taken" in dup.stderr
    overlap = _run(
        ["designation", "add", "--municipality", "999997", "--post-office", office, "--procedure", "pin_reset",
         "--valid-from", "2020-01-01", "--valid-until", "2099-12-31", "--council-resolution", "R", "--contract", "C"],
        hub_env,
    )  # fmt: skip
    assert overlap.returncode == 1
    assert "overlapping" in overlap.stderr
