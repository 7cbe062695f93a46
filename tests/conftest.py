"""Shared fixtures: a real database per run (SQLite file or a fresh PostgreSQL database), the app, clients."""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

# Cheap password hashing for tests (argon2id all the same); must be set before service.accounts.passwords loads.
os.environ.setdefault("HUB_ARGON2_TIME_COST", "1")
os.environ.setdefault("HUB_ARGON2_MEMORY_KIB", "1024")

import httpx
import pytest
from sqlalchemy import delete, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from service import migrate
from service.app import create_app
from service.config import Environment, Settings
from service.db import create_engine, create_sessionmaker
from service.kit import clock
from service.models import metadata
from tests._services import missing_service

pytest_plugins = ["tests.plugins.apdu_guard", "tests.plugins.pcsc_slot"]

PG_ADMIN_URL = os.environ.get(
    "HUB_TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


# Fixtures whose tests need the machine to themselves, by the marker tests/run_all.py runs alone: the shared
# pcscd (its restart test must be its only user) and headless Chromium (a starved video frame reads as a drop).
ALONE_FIXTURES = {"pcsc_stack": "pcsc", "browser": "browser", "browser_net": "browser"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test that uses one of ALONE_FIXTURES (directly or through another fixture) for the `-m` split.

    A test marked `postgresql_backend` tests something only a database server has (a backend dropped under a kept
    connection): the SQLite pass deselects it, and the PostgreSQL pass (tests/run_all.py) runs it. Deselected, not
    skipped: the suite's totals show no skip.
    """
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for fixture, marker in ALONE_FIXTURES.items():
            if fixture in used and item.get_closest_marker(marker) is None:
                item.add_marker(marker)
    if backend() != "postgresql":
        server_only = [item for item in items if item.get_closest_marker("postgresql_backend")]
        if server_only:
            config.hook.pytest_deselected(items=server_only)
            items[:] = [item for item in items if not item.get_closest_marker("postgresql_backend")]


def backend() -> str:
    """Which database this run uses: `sqlite` (default) or `postgresql` (HUB_TEST_DB)."""
    return os.environ.get("HUB_TEST_DB", "sqlite")


async def _create_pg_database(name: str) -> str:
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def _drop_pg_database(name: str) -> None:
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def _pg_reachable() -> bool:
    admin = create_async_engine(PG_ADMIN_URL)
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except (OSError, Exception):
        return False
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for this run: a fresh PostgreSQL database, or a SQLite file."""
    if backend() == "postgresql":
        if not asyncio.run(_pg_reachable()):
            missing_service(f"PostgreSQL at {PG_ADMIN_URL}")
        name = f"madoguchi_test_{os.getpid()}_{secrets.token_hex(3)}"
        url = asyncio.run(_create_pg_database(name))
        asyncio.run(_migrate(url))
        yield url
        asyncio.run(_drop_pg_database(name))
    else:
        path = tmp_path_factory.mktemp("db") / "hub.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        asyncio.run(_migrate(url))
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Test-mode settings on the run's database."""
    return Settings(
        environment=Environment.test,
        database_url=database_url,
        data_dir=tmp_path / "hub",
        public_origin="http://hub.test",
    )


async def _wipe(engine: AsyncEngine) -> None:
    if engine.dialect.name == "postgresql":
        # One round trip: the DELETE statements one by one cost 0.1-0.3 s per test on PostgreSQL, batched
        # ~0.01 s (a multi-statement simple query runs as one transaction). TRUNCATE is slower still here.
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.execute(
                ";".join(
                    str(delete(t).compile(dialect=engine.dialect)) for t in reversed(metadata.sorted_tables)
                )
            )
        return
    # On SQLite a connection the finished test's app left in a transaction (a request still unwinding when the
    # lifespan stopped) can hold the write lock past the 15 s busy timeout; it is released once that connection
    # is collected. Collect and try again rather than leave this test's rows to break the next test's setup.
    for attempt in range(3):
        try:
            async with engine.begin() as conn:
                for table in reversed(metadata.sorted_tables):
                    await conn.execute(delete(table))
            return
        except OperationalError as exc:
            if "database is locked" not in str(exc) or attempt == 2:
                raise
            gc.collect()


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine on the run's database, emptied after the test."""
    engine = create_engine(settings.effective_database_url)
    yield engine
    await _wipe(engine)
    await engine.dispose()
    clock.reset_for_tests()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the test engine."""
    return create_sessionmaker(engine)


@pytest.fixture
async def app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[object]:
    """The hub app with its lifespan running (engine fixture first, so the wipe runs after the app stops)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, in process."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as c:
        yield c


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty, un-migrated database of the run's backend, dropped afterwards."""
    if backend() == "postgresql":
        if not asyncio.run(_pg_reachable()):
            missing_service(f"PostgreSQL at {PG_ADMIN_URL}")
        name = f"madoguchi_fresh_{os.getpid()}_{secrets.token_hex(3)}"
        url = asyncio.run(_create_pg_database(name))
        yield url
        asyncio.run(_drop_pg_database(name))
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
