"""The operator's maintenance commands of `hub` (audit verify/checkpoint, evidence purge, keys rotate), run on
the hub's own server against its database; cli.py parses the command line and calls them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from service.audit import service as audit_service
from service.audit.checkpoints import checkpoint_all, load_signing_key, verify_checkpoints
from service.config import Settings
from service.db import create_engine, create_sessionmaker, is_sqlite, unit_of_work
from service.evidence import retention
from service.evidence.runtime import load_keyring
from service.outbox import retention as outbox_retention


def engine_for(settings: Settings) -> AsyncEngine:
    """An engine on the configured database (the SQLite file's folder made if needed); dispose it after use."""
    if is_sqlite(settings.effective_database_url):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return create_engine(settings.effective_database_url)


async def audit_verify(settings: Settings) -> int:
    """`hub audit verify`: every hash chain and signed checkpoint; exit 1 if anything is broken."""
    key = load_signing_key(settings)
    engine = engine_for(settings)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            reports = await audit_service.verify_all(session)
            checked, problems = await verify_checkpoints(session, trusted={key.key_id: key.public})
    finally:
        await engine.dispose()
    broken: list[object] = [r for r in reports if not r.ok]
    for r in reports:
        status = (
            "ok" if r.ok else f"BROKEN at seq {r.first_broken_seq} (row id {r.first_broken_id}): {r.problem}"
        )
        print(f"chain {r.chain:>8}: {r.rows} rows — {status}")
    for problem in problems:
        print(f"checkpoint {problem.chain} seq {problem.seq}: BROKEN — {problem.problem}")
    broken += problems
    print(f"signed checkpoints checked: {checked}")
    if not reports:
        print("no audit events yet")
    print(
        "監査証跡は改ざんされていません / audit trail intact"
        if not broken
        else "監査証跡の改ざんを検出しました / audit trail TAMPERED"
    )
    return 1 if broken else 0


async def evidence_purge(settings: Settings) -> int:
    """`hub evidence purge`: shred evidence past retention, delete finished outbox rows past theirs."""
    engine = engine_for(settings)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            purged = await retention.purge_due(session)
        async with unit_of_work(create_sessionmaker(engine)) as session:
            outbox = await outbox_retention.purge_finished(
                session, older_than_days=settings.outbox_retention_days
            )
    finally:
        await engine.dispose()
    print(f"{purged} evidence blob(s) shredded past retention (each recorded in the audit trail)")
    print(
        f"{outbox.deliveries} finished webhook deliveries and {outbox.events} dispatched outbox events older than "
        f"{settings.outbox_retention_days} days deleted"
    )
    return 0


async def keys_rotate(settings: Settings) -> int:
    """`hub keys rotate`: a new key-encryption key; every data key re-wrapped under it."""
    path = settings.kek_file or settings.data_dir / "kek.json"
    keyring = load_keyring(settings)
    new_id = keyring.add_key()
    # Save first: old keys stay in the file, so every blob opens whether or not it has been re-wrapped yet.
    keyring.save(path)
    engine = engine_for(settings)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            count = await retention.rewrap_all(session, keyring=keyring)
    finally:
        await engine.dispose()
    print(
        f"new key-encryption key {new_id} active; {count} data key(s) re-wrapped; older keys stay in {path} until removed. "
        "A running hub reloads the key file by itself."
    )
    return 0


async def audit_checkpoint(settings: Settings) -> int:
    """`hub audit checkpoint`: sign the current head of every audit chain."""
    key = load_signing_key(settings)
    engine = engine_for(settings)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            made = await checkpoint_all(session, key=key)
    finally:
        await engine.dispose()
    for cp in made:
        print(f"checkpoint signed: chain {cp.chain} at seq {cp.seq} (key {cp.key_id[:12]}…)")
    print(f"{len(made)} checkpoint(s) signed")
    return 0
