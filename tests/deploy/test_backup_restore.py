"""The backup and restore drill of docs/operations.md §Restore, as an operator runs it.

A hub runs on its own PostgreSQL database with file keys (the KEK file and the audit signing key, as production
has them), and a case goes through review to finalization: cases, evidence and audit rows. While the hub still
runs, `pg_dump -Fc` takes the database and the key files are copied aside. The dump is restored into a fresh
database; `hub audit verify`, in production mode with the copied keys, passes there, and the restored evidence
opens with the copied KEK file (through a hub started on the restored database, and blob by blob). A key that is
not the backed-up one opens nothing and verifies nothing: the drill fails when the keys are not part of the backup.

PostgreSQL only (pg_dump is the subject), whatever HUB_TEST_DB says; the two databases are created here with unique
names on 127.0.0.1:5432 and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from service import cli, maintenance
from service.accounts.roles import Role
from service.app import create_app
from service.audit.models import AuditEvent
from service.cases.models import Case
from service.config import Environment, Settings, get_settings
from service.db import create_engine, create_sessionmaker, unit_of_work
from service.evidence.models import EvidenceBlob
from service.kit.envelope import EnvelopeError, Keyring, Sealed, aad_for
from tests._services import missing_service
from tests.conftest import PG_ADMIN_URL, _create_pg_database, _drop_pg_database, _migrate, _pg_reachable
from tests.factories import World, device_client, login, make_admin, make_tenant
from tests.service.conftest import CaseDriver

pytestmark = pytest.mark.e2e


def _libpq_url(sqlalchemy_url: str) -> str:
    """The database URL as pg_dump and pg_restore take it."""
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _write_signing_key(path: Path) -> None:
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    path.chmod(0o600)


@dataclass
class Drill:
    """What the running hub left behind: the dump, the backed-up key files, the evidence it stored."""

    restored_url: str
    backup_dir: Path
    case_id: str
    photo_id: str
    photo: bytes
    officer_username: str
    audit_rows: int


async def _count_audit(engine: AsyncEngine) -> int:
    async with unit_of_work(create_sessionmaker(engine)) as session:
        return int((await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one())


async def _run_hub_and_back_up(settings: Settings, backup_dir: Path) -> tuple[str, str, bytes, str, int]:
    """A running hub: a case to finalization with its photo; a signed checkpoint; pg_dump while it runs."""
    engine = create_engine(settings.effective_database_url)
    sessionmaker = create_sessionmaker(engine)
    application = create_app(settings)
    try:
        async with (
            application.router.lifespan_context(application),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application), base_url="http://hub.test"
            ) as client,
        ):
            tenant = await make_tenant(
                sessionmaker, settings, prefix="99001", name="甲市", office_code="99101"
            )
            other = await make_tenant(
                sessionmaker, settings, prefix="99002", name="乙町", office_code="99102"
            )
            admin = await make_admin(sessionmaker)
            headers = {
                (label, role): await login(client, username)
                for label, t in (("a", tenant), ("b", other))
                for role, username in t.usernames.items()
            }
            async with (
                device_client(application, tenant) as device_a,
                device_client(application, other) as device_b,
            ):
                world = World(tenant, other, await login(client, admin), headers, device_a, device_b)
                driver = CaseDriver(client, world)
                case = await driver.to_review()
                await driver.officer(case["id"], "approve", attested=True)
                finalized = await driver.finalize(case["id"])
                assert finalized["state"] == "pin_request_sealed"
                officer = world.h("a", Role.officer)
                listed = await client.get(f"/api/v1/cases/{case['id']}/evidence", headers=officer)
                photo_id = next(i["id"] for i in listed.json()["items"] if i["kind"] == "application_photo")
                photo = await client.get(f"/api/v1/cases/{case['id']}/stills/{photo_id}", headers=officer)
                assert photo.status_code == 200, photo.text
            # The operator's nightly steps, the hub still serving: sign the chains' heads, dump, copy the keys.
            assert await maintenance.audit_checkpoint(settings) == 0  # what `hub audit checkpoint` runs
            dump = await asyncio.to_thread(
                subprocess.run,
                ["pg_dump", "-Fc", "-f", str(backup_dir / "madoguchi.dump"),
                 _libpq_url(settings.effective_database_url)],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert dump.returncode == 0, dump.stderr
            audit_rows = await _count_audit(engine)
    finally:
        await engine.dispose()
    assert settings.kek_file is not None
    assert settings.audit_signing_key_file is not None
    shutil.copy2(settings.kek_file, backup_dir / "kek.json")
    shutil.copy2(settings.audit_signing_key_file, backup_dir / "audit-signing.key")
    return case["id"], photo_id, photo.content, tenant.usernames[Role.officer], audit_rows


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    """Source database with a finalized case, its dump restored into a fresh database; both dropped afterwards."""
    if not asyncio.run(_pg_reachable()):
        missing_service(f"PostgreSQL at {PG_ADMIN_URL}")
    root = tmp_path_factory.mktemp("drill")
    keys, backup_dir = root / "etc-madoguchi", root / "backup"
    keys.mkdir()
    backup_dir.mkdir()
    Keyring.generate().save(keys / "kek.json")
    _write_signing_key(keys / "audit-signing.key")
    tag = f"{os.getpid()}_{secrets.token_hex(3)}"
    source_name, restored_name = f"madoguchi_drill_src_{tag}", f"madoguchi_drill_restored_{tag}"
    source_url = asyncio.run(_create_pg_database(source_name))
    try:
        asyncio.run(_migrate(source_url))
        settings = Settings(
            environment=Environment.test,
            database_url=source_url,
            data_dir=root / "hub",
            public_origin="http://hub.test",
            kek_file=keys / "kek.json",
            audit_signing_key_file=keys / "audit-signing.key",
            officer_wrapup_seconds=0,
        )
        case_id, photo_id, photo, officer, audit_rows = asyncio.run(
            _run_hub_and_back_up(settings, backup_dir)
        )
        # The restore: an empty database, the dump loaded into it as its new owner.
        restored_url = asyncio.run(_create_pg_database(restored_name))
        restore = subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", "-d", _libpq_url(restored_url),
             str(backup_dir / "madoguchi.dump")],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert restore.returncode == 0, restore.stderr
        yield Drill(restored_url, backup_dir, case_id, photo_id, photo, officer, audit_rows)
    finally:
        asyncio.run(_drop_pg_database(source_name))
        asyncio.run(_drop_pg_database(restored_name))


def _audit_verify(
    drill: Drill,
    tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *,
    signing_key: Path,
) -> tuple[int, str]:
    """`hub audit verify` in production mode on the restored database with the backed-up key files."""
    for name, value in {
        "HUB_ENVIRONMENT": "production",
        "HUB_DATABASE_URL": drill.restored_url,
        "HUB_DATA_DIR": str(tmp / "hub"),
        "HUB_SECRET_KEY": secrets.token_urlsafe(48),
        "HUB_KEK_FILE": str(drill.backup_dir / "kek.json"),
        "HUB_AUDIT_SIGNING_KEY_FILE": str(signing_key),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        code = cli.main(["audit", "verify"])
    finally:
        get_settings.cache_clear()
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_audit_verify_passes_on_the_restored_database(
    drill: Drill, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _audit_verify(
        drill, tmp_path, monkeypatch, capsys, signing_key=drill.backup_dir / "audit-signing.key"
    )
    assert code == 0, out
    assert "audit trail intact" in out
    # The signed checkpoint taken before the dump came along and was checked against the backed-up key.
    checked = next(line for line in out.splitlines() if line.startswith("signed checkpoints checked"))
    assert int(checked.rsplit(" ", 1)[1]) >= 1
    rows = sum(int(line.split(":")[1].split()[0]) for line in out.splitlines() if line.startswith("chain"))
    assert rows == drill.audit_rows


def test_audit_verify_refuses_a_signing_key_that_was_not_backed_up(
    drill: Drill, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger = tmp_path / "new-audit-signing.key"
    _write_signing_key(stranger)
    code, out = _audit_verify(drill, tmp_path, monkeypatch, capsys, signing_key=stranger)
    assert code == 1, out
    assert "TAMPERED" in out


async def _restored_blobs(url: str) -> list[EvidenceBlob]:
    engine = create_engine(url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            blobs = list((await session.execute(select(EvidenceBlob))).scalars())
            assert await session.get(Case, blobs[0].case_id) is not None
            return blobs
    finally:
        await engine.dispose()


def _open_all(keyring: Keyring, blobs: list[EvidenceBlob]) -> list[bytes]:
    return [
        keyring.open(
            Sealed(blob.kek_id, blob.wrapped_key or b"", blob.ciphertext or b""),
            aad_for(case_id=blob.case_id, field=blob.field, object_id=blob.id),
        )
        for blob in blobs
    ]


def test_restored_evidence_opens_with_the_backed_up_kek_only(drill: Drill) -> None:
    blobs = asyncio.run(_restored_blobs(drill.restored_url))
    assert blobs, "the drill stored no evidence"
    opened = _open_all(Keyring.load(drill.backup_dir / "kek.json"), blobs)
    assert drill.photo in opened
    with pytest.raises(EnvelopeError):
        _open_all(Keyring.generate(), blobs)


@asynccontextmanager
async def _serve_restored(drill: Drill, tmp: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    settings = Settings(
        environment=Environment.test,
        database_url=drill.restored_url,
        data_dir=tmp / "restored-hub",
        public_origin="http://hub.test",
        kek_file=drill.backup_dir / "kek.json",
        audit_signing_key_file=drill.backup_dir / "audit-signing.key",
    )
    application = create_app(settings)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://hub.test"
        ) as client,
    ):
        yield client, await login(client, drill.officer_username)


async def test_a_hub_on_the_restored_database_serves_the_case_and_its_photo(
    drill: Drill, tmp_path: Path
) -> None:
    async with _serve_restored(drill, tmp_path) as (client, officer):
        case = await client.get(f"/api/v1/cases/{drill.case_id}", headers=officer)
        assert case.status_code == 200, case.text
        assert case.json()["state"] == "pin_request_sealed"
        still = await client.get(f"/api/v1/cases/{drill.case_id}/stills/{drill.photo_id}", headers=officer)
        assert still.status_code == 200, still.text
        assert still.content == drill.photo
