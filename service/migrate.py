"""Alembic, driven from code: upgrade, current and head revisions, drift check."""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, String, Table, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Written by each migration from 0016 on: the oldest code revision that runs on the schema it leaves (expand/contract,
# docs/operations.md §Upgrades). Read by code that finds the database at a revision it does not know.
schema_compatibility = Table(
    "schema_compatibility",
    Base.metadata,
    Column("revision", String(32), primary_key=True),
    Column("oldest_code_revision", String(32), nullable=False),
)


def alembic_config(url: str = "") -> Config:
    """An Alembic config pointing at migrations/ (works from any working directory)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    # Read once per process: the migrations shipped with the code do not change while it runs, and /readyz asks
    # on every health check.
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str | None:
    """The newest migration's revision id."""
    return _scripts().get_current_head()


class _QuietLookups(logging.Filter):
    """Drops Alembic's context lines ("Context impl …", "Will assume … DDL") logged while this thread only reads
    the database's revision: /readyz does so at every health check (HAProxy: every 400 ms). Upgrades and
    downgrades run outside it and log everything."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "alembic.runtime.migration" or not getattr(self.local, "active", False)


_quiet_lookups = _QuietLookups()
logging.getLogger("alembic.runtime.migration").addFilter(_quiet_lookups)


def _current(connection: Connection) -> str | None:
    _quiet_lookups.local.active = True
    try:
        return MigrationContext.configure(connection).get_current_revision()
    finally:
        _quiet_lookups.local.active = False


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None when never migrated)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


@lru_cache(maxsize=1)
def _known_revisions() -> frozenset[str]:
    script = _scripts()
    head = script.get_current_head()
    return frozenset(r.revision for r in script.iterate_revisions(head, "base")) if head else frozenset()


def known_through_head(revision: str) -> bool:
    """Whether `revision` is this code's head or one of its ancestors."""
    return revision in _known_revisions()


async def schema_runs_this_code(engine: AsyncEngine) -> tuple[bool, str | None]:
    """Whether this code can serve on the database's schema, and the database's revision.

    Yes at the newest migration; also at a later one this code does not know, when that migration recorded that
    code as old as ours still runs on it (an expand step of a rolling upgrade). Never below the newest.
    """
    current = await current_revision(engine)
    if current is None or current == head_revision():
        return current is not None, current
    if known_through_head(current):
        return False, current  # an older schema: `hub db upgrade` first
    try:
        async with engine.connect() as conn:
            oldest = await conn.scalar(
                select(schema_compatibility.c.oldest_code_revision).where(
                    schema_compatibility.c.revision == current
                )
            )
    except DBAPIError:
        return False, current  # a future schema from before the compatibility table: not known to be safe
    return oldest is not None and known_through_head(oldest), current


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` on the engine's database."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Revert migrations down to `revision`."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def check(engine: AsyncEngine) -> None:
    """Raise alembic's AutogenerateDiffsDetected when the models and the migrated schema differ."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.check(config)

    async with engine.connect() as conn:
        await conn.run_sync(run)
