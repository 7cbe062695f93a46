"""Synthetic demo tenant: one invented municipality, one designated office, a device and one account per role."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import service as accounts_service
from service.accounts.roles import MUNICIPALITY_ROLES, SYSTEM, Role
from service.config import Settings
from service.db import unit_of_work
from service.tenancy import service as tenancy_service
from service.tenancy.codes import Procedure
from service.tenancy.hours import ALWAYS_OPEN
from service.tenancy.models import Municipality
from service.tenancy.schemas import DesignationCreate, MunicipalityCreate, PostOfficeCreate
from service.wire import device_auth

# Invented: prefecture code 99 does not exist, so 999997 can never be a real municipality.
DEMO_MUNICIPALITY = ("999997", "窓口市（デモ）")  # what people read: a municipality is named in Japanese
DEMO_OFFICE = ("99001", "窓口中央郵便局 (Madoguchi Central Post Office, demo)", "窓口市中央1-1-1 (invented)")
DEMO_ROLES = (
    ("demo-officer", "窓口 一郎 (officer)", Role.officer),
    ("demo-supervisor", "窓口 二郎 (supervisor)", Role.supervisor),
    ("demo-auditor", "窓口 三子 (auditor)", Role.auditor),
    ("demo-admin", "管理 太郎 (admin)", Role.admin),
    ("demo-clerk", "郵便 花子 (clerk)", Role.clerk),
    # The reports' readers (docs/reports.md §Access): the municipality's manager and the ministry.
    ("demo-manager", "窓口 四郎 (manager)", Role.manager),
    ("demo-ministry", "総務 五子 (ministry)", Role.ministry),
)


@dataclass(frozen=True)
class DemoSeed:
    municipality_code: str
    post_office_id: str
    device_id: str
    device_key_path: Path
    logins: dict[str, str]


def _credentials_path(settings: Settings) -> Path:
    return settings.data_dir / "demo-credentials.json"


async def seed(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> DemoSeed:
    """Create the demo tenant once; later runs reuse it and its stored logins."""
    cred_path = _credentials_path(settings)
    key_path = settings.data_dir / "demo-device.key"
    async with unit_of_work(sessionmaker) as session:
        existing = await session.get(Municipality, DEMO_MUNICIPALITY[0])
        if existing is not None and cred_path.exists() and key_path.exists():
            stored = json.loads(cred_path.read_text())
            return DemoSeed(
                DEMO_MUNICIPALITY[0],
                stored["post_office_id"],
                stored["device_id"],
                key_path,
                stored["logins"],
            )
        if existing is not None:
            raise RuntimeError(
                f"demo data exists but {cred_path} is missing; remove {settings.data_dir} to start afresh"
            )
        await tenancy_service.create_municipality(
            session,
            actor=SYSTEM,
            data=MunicipalityCreate(
                code=DEMO_MUNICIPALITY[0],
                name=DEMO_MUNICIPALITY[1],
                policy={
                    "accepted_id_combinations": ["A1_with_pin", "A2", "A+B"],
                    "face_auth_card_allowed": True,
                    "mail_type": "honnin_tokurei",
                },
            ),
        )
        office = await tenancy_service.create_post_office(
            session,
            actor=SYSTEM,
            data=PostOfficeCreate(office_code=DEMO_OFFICE[0], name=DEMO_OFFICE[1], address=DEMO_OFFICE[2]),
        )
        today = dt.date.today()
        await tenancy_service.create_designation(
            session,
            actor=SYSTEM,
            data=DesignationCreate(
                municipality_code=DEMO_MUNICIPALITY[0],
                post_office_id=office.id,
                procedures=list(Procedure),
                valid_from=today - dt.timedelta(days=1),
                valid_until=today + dt.timedelta(days=365 * 3),
                council_resolution_ref="窓口市議会 議決第1号 (demo)",
                contract_id="DEMO-CONTRACT-0001",
                opening_hours=ALWAYS_OPEN,
            ),
        )
        # The municipality's PIN-sealing key: the hub keeps the public half; the private half stands for the
        # municipality's 交付前設定 system and stays in the data directory.
        sealing = X25519PrivateKey.generate()
        await tenancy_service.set_pin_sealing_key(
            session,
            actor=SYSTEM,
            code=DEMO_MUNICIPALITY[0],
            public_key=device_auth.b64url(sealing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)),
        )
        logins: dict[str, str] = {}
        for username, display_name, role in DEMO_ROLES:
            password = f"demo-{secrets.token_urlsafe(9)}"
            await accounts_service.create_account(
                session,
                actor=SYSTEM,
                username=username,
                display_name=display_name,
                role=role,
                password=password,
                municipality_code=DEMO_MUNICIPALITY[0] if role in MUNICIPALITY_ROLES else None,
                post_office_id=office.id if role is Role.clerk else None,
            )
            logins[username] = password
        code, _ = await accounts_service.issue_enrolment_code(
            session, actor=SYSTEM, post_office_id=office.id, device_name="demo counter PC", settings=settings
        )
        key = Ed25519PrivateKey.generate()
        device = await accounts_service.enrol_device(
            session, code=code, public_key=device_auth.public_key_text(key)
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    key_path.chmod(0o600)
    sealing_path = settings.data_dir / "demo-pin-sealing.key"
    sealing_path.write_bytes(sealing.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    sealing_path.chmod(0o600)
    cred_path.write_text(
        json.dumps(
            {"post_office_id": office.id, "device_id": device.id, "logins": logins},
            ensure_ascii=False,
            indent=2,
        )
    )
    cred_path.chmod(0o600)
    return DemoSeed(DEMO_MUNICIPALITY[0], office.id, device.id, key_path, logins)
