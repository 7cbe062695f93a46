"""`hub keys rotate` and `hub evidence purge` from the command line, and a running hub following a rotated keyring."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service import cli
from service.accounts.roles import Role
from service.config import Settings, get_settings
from service.db import unit_of_work
from service.evidence.models import EvidenceBlob
from tests.factories import World
from tests.service.conftest import CaseDriver


@pytest.fixture
def hub_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI reads its settings from the environment: point it at the test database and data directory."""
    monkeypatch.setenv("HUB_ENVIRONMENT", "test")
    monkeypatch.setenv("HUB_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(settings.data_dir))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    get_settings.cache_clear()
    yield settings.data_dir
    get_settings.cache_clear()


def test_keys_rotate_and_evidence_purge_run(hub_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "rotate"]) == 0
    first = json.loads((hub_env / "kek.json").read_text())
    assert cli.main(["keys", "rotate"]) == 0
    second = json.loads((hub_env / "kek.json").read_text())
    assert second != first
    assert cli.main(["evidence", "purge"]) == 0
    out = capsys.readouterr().out
    assert "re-wrapped" in out
    assert "shredded past retention" in out


async def test_a_running_hub_follows_a_rotated_keyring(
    hub_env: Path,
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """`hub keys rotate` while the hub runs: old evidence still opens, new evidence is sealed with the new key."""
    officer = world.h("a", Role.officer)
    case = await driver.to_review()
    listed = await client.get(f"/api/v1/cases/{case['id']}/evidence", headers=officer)
    photo = next(item["id"] for item in listed.json()["items"] if item["kind"] == "application_photo")
    still = f"/api/v1/cases/{case['id']}/stills/{photo}"
    before = await client.get(still, headers=officer)
    assert before.status_code == 200, before.text
    # The CLI in another thread, as another process would: adds a key and re-wraps every data key.
    assert await asyncio.to_thread(cli.main, ["keys", "rotate"]) == 0
    active = json.loads((hub_env / "kek.json").read_text())["active"]
    async with unit_of_work(sessionmaker) as session:
        kek_ids = set((await session.execute(select(EvidenceBlob.kek_id))).scalars())
    assert kek_ids == {active}  # every blob re-wrapped with a key the running hub had never seen
    after = await client.get(still, headers=officer)
    assert after.status_code == 200, after.text
    assert after.content == before.content
    await driver.officer(case["id"], "approve", attested=True)
    second = await driver.to_review()
    async with unit_of_work(sessionmaker) as session:
        query = select(EvidenceBlob.kek_id).where(EvidenceBlob.case_id == second["id"])
        assert set((await session.execute(query)).scalars()) == {active}
