"""Rolling upgrades (docs/operations.md §Upgrades): this code serves on a schema one expand migration ahead of it,
and refuses one that a contract migration changed, or an older one."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from service import migrate
from service.app import NotMigrated, create_app, ensure_migrated
from service.config import Environment, Settings
from service.db import create_engine


@pytest.fixture
async def settings_ahead(fresh_database_url: str, tmp_path: Path) -> Settings:
    """A fresh database at this code's newest migration."""
    engine = create_engine(fresh_database_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    return Settings(environment=Environment.test, database_url=fresh_database_url, data_dir=tmp_path / "hub")


async def _next_migration(settings: Settings, *, oldest_code: str) -> None:
    """What the next release's migration would do: expand the schema and record the oldest code it runs."""
    engine = create_engine(settings.effective_database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE counter_case ADD COLUMN future_note VARCHAR(200)"))
            await conn.execute(text("UPDATE alembic_version SET version_num = '9001'"))
            await conn.execute(
                text(
                    "INSERT INTO schema_compatibility (revision, oldest_code_revision) VALUES ('9001', :old)"
                ),
                {"old": oldest_code},
            )
    finally:
        await engine.dispose()


async def test_this_code_serves_on_a_schema_one_expand_migration_ahead(settings_ahead: Settings) -> None:
    head = migrate.head_revision()
    assert head is not None
    await _next_migration(settings_ahead, oldest_code=head)
    await ensure_migrated(settings_ahead)  # `hub serve` starts
    app = create_app(settings_ahead)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client,
    ):
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["migration"] == "9001"
        listed = await client.get("/api/v1/municipalities")
        assert listed.status_code in {200, 401}  # the app answers on the expanded schema (auth aside)


async def test_a_contract_migration_ahead_is_refused_with_the_fix(settings_ahead: Settings) -> None:
    await _next_migration(settings_ahead, oldest_code="9001")  # only code as new as 9001 runs on it
    with pytest.raises(NotMigrated, match="newer than this code"):
        await ensure_migrated(settings_ahead)


async def test_an_older_schema_is_refused_with_the_upgrade_command(settings_ahead: Settings) -> None:
    engine = create_engine(settings_ahead.effective_database_url)
    try:
        await migrate.downgrade(engine, "0013")
    finally:
        await engine.dispose()
    with pytest.raises(NotMigrated, match="hub db upgrade"):
        await ensure_migrated(settings_ahead)


async def test_readiness_checks_are_quiet_and_upgrades_are_not(
    fresh_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """/readyz reads the revision without Alembic's two INFO lines per call (a load balancer asks every 400 ms);
    `hub db upgrade` still logs each migration it runs."""
    caplog.set_level(logging.INFO, logger="alembic")
    engine = create_engine(fresh_database_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    upgrade_lines = [r.getMessage() for r in caplog.records if r.name.startswith("alembic")]
    assert any(line.startswith("Context impl") for line in upgrade_lines)
    head = f"-> {migrate.head_revision()}"
    assert any(line.startswith("Running upgrade") and head in line for line in upgrade_lines)
    caplog.clear()
    settings = Settings(
        environment=Environment.test, database_url=fresh_database_url, data_dir=tmp_path / "hub"
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client,
    ):
        caplog.clear()
        for _ in range(3):
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []
