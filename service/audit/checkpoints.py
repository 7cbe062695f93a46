"""Signed checkpoints over the audit chains (Ed25519), and their verification."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit import repository
from service.audit.models import AuditCheckpoint, AuditEvent
from service.config import Environment, Settings
from service.kit import clock
from service.kit.hashing import canonical_json


@dataclass(frozen=True)
class SigningKey:
    key: Ed25519PrivateKey
    key_id: str  # SHA-256 of the raw public key

    @property
    def public(self) -> Ed25519PublicKey:
        return self.key.public_key()


def _key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()


def load_signing_key(settings: Settings) -> SigningKey:
    """The configured key; outside production, one generated (once) in the data directory."""
    path = settings.audit_signing_key_file
    if path is None:
        if settings.environment is Environment.production:
            raise RuntimeError("HUB_AUDIT_SIGNING_KEY_FILE is required in production")
        path = settings.data_dir / "audit-signing.key"
        if not path.exists():
            _write_key(path, Ed25519PrivateKey.generate())
    key = load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return SigningKey(key, _key_id(key.public_key()))


def _write_key(path: Path, key: Ed25519PrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))


def _message(chain: str, seq: int, head_hash: str, signed_at: dt.datetime) -> bytes:
    stamp = signed_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return canonical_json(
        {
            "v": "madoguchi-audit-checkpoint/1",
            "chain": chain,
            "seq": seq,
            "head_hash": head_hash,
            "signed_at": stamp,
        }
    )


async def checkpoint_all(session: AsyncSession, *, key: SigningKey) -> list[AuditCheckpoint]:
    """Sign every chain whose head moved since its last checkpoint."""
    made: list[AuditCheckpoint] = []
    for head in await repository.chains(session):
        last = (
            await session.execute(
                select(AuditCheckpoint.seq)
                .where(AuditCheckpoint.chain == head.chain)
                .order_by(AuditCheckpoint.seq.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if head.seq == 0 or last == head.seq:
            continue
        now = clock.now()
        signature = key.key.sign(_message(head.chain, head.seq, head.head_hash, now)).hex()
        checkpoint = AuditCheckpoint(
            chain=head.chain,
            seq=head.seq,
            head_hash=head.head_hash,
            signed_at=now,
            key_id=key.key_id,
            signature=signature,
        )
        session.add(checkpoint)
        made.append(checkpoint)
    await session.flush()
    return made


@dataclass(frozen=True)
class CheckpointProblem:
    chain: str
    seq: int
    problem: str


async def verify_checkpoints(
    session: AsyncSession, *, trusted: dict[str, Ed25519PublicKey]
) -> tuple[int, list[CheckpointProblem]]:
    """Check every checkpoint's signature (by a trusted key) and that the chain still holds the signed head."""
    problems: list[CheckpointProblem] = []
    rows = (
        (await session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.chain, AuditCheckpoint.seq)))
        .scalars()
        .all()
    )
    for cp in rows:
        public = trusted.get(cp.key_id)
        if public is None:
            problems.append(
                CheckpointProblem(cp.chain, cp.seq, f"signed by an unknown key {cp.key_id[:12]}…")
            )
            continue
        try:
            public.verify(bytes.fromhex(cp.signature), _message(cp.chain, cp.seq, cp.head_hash, cp.signed_at))
        except (InvalidSignature, ValueError):
            problems.append(CheckpointProblem(cp.chain, cp.seq, "checkpoint signature does not verify"))
            continue
        row = (
            await session.execute(
                select(AuditEvent.hash).where(AuditEvent.chain == cp.chain, AuditEvent.seq == cp.seq)
            )
        ).scalar_one_or_none()
        if row != cp.head_hash:
            problems.append(
                CheckpointProblem(
                    cp.chain, cp.seq, "the chain no longer holds the signed head (rewritten or truncated)"
                )
            )
    return len(rows), problems
