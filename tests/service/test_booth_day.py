"""A booth day end to end: the officer's laptop (clerk_agent/booth) against the hub, with the network cut most of the day.

docs/booths.md. The laptop's link runs over a transport that refuses while the cable is out, as a lobby without
network does; the hub is the real app on the run's database (SQLite or PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.booth.day import BoothDay, BoothWiped, Capture, NotReceivable
from clerk_agent.booth.hub import BoothHub
from clerk_agent.booth.store import BoothStore, StoreLocked
from clerk_agent.link.auth import DeviceAuth
from clerk_agent.link.hub import HubLink
from service.accounts.roles import Role
from service.booths import tasks as booth_tasks
from service.booths.models import BoothCase, BoothPending
from service.booths.standing import StandingSimulator
from service.cases.models import Case
from service.config import Settings
from service.kit import clock
from service.wire import booths as wire
from tests.factories import ELIGIBLE, PASSWORD, World, shinseisho_id
from tests.service.test_booths import CHECKLIST, PINS, Booth, photo

pytestmark = pytest.mark.usefixtures("world")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The J-LIS simulator on, so that a cleared booth case goes all the way to its submission."""
    return settings.model_copy(update={"jlis_adapter": "simulator"})


class Cable(httpx.AsyncBaseTransport):
    """The lobby's network: `up` or cut; `fail_once` makes the hub answer 500 once to a request naming a case."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.up = True
        self.fail_once: set[str] = set()
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            self.refused += 1
            raise httpx.ConnectError("no network in the lobby", request=request)
        body = request.content.decode(errors="replace")
        for case_id in list(self.fail_once):
            if case_id in body and request.url.path.endswith("/cases"):
                self.fail_once.discard(case_id)
                return httpx.Response(500, json={"code": "internal_error", "detail": "simulated"})
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def laptop(app: Any, world: World, tmp_path: Path) -> AsyncIterator[tuple[BoothDay, Cable]]:
    cable = Cable(httpx.ASGITransport(app=app))
    http = httpx.AsyncClient(
        transport=cable,
        base_url="http://hub.test",
        auth=DeviceAuth(world.a.device_id, world.a.device_key, clock=lambda: clock.now().timestamp()),
    )
    store = BoothStore(tmp_path / "booth.sqlite3")
    async with http:
        yield BoothDay(store, BoothHub(HubLink(http))), cable


def capture(residence: str, sid: str | None = None) -> Capture:
    now = clock.now()
    return Capture(
        residence_municipality_code=residence,
        shinseisho_id=sid or shinseisho_id(),
        answers=dict(ELIGIBLE),
        stills=[("application_photo", "image/jpeg", _photo_bytes())],
        decision=wire.Decision(
            action=wire.DecisionAction.approve,
            attested=True,
            checklist=wire.Checklist.model_validate(CHECKLIST),
            decided_at=now,
        ),
        pins={k: bytearray(v) for k, v in PINS.items()},
    )


def _photo_bytes() -> bytes:
    import base64

    return base64.b64decode(photo())


async def test_a_booth_day_offline_then_synced_once_with_the_moving_resident_held(
    app: Any,
    client: httpx.AsyncClient,
    world: World,
    laptop: tuple[BoothDay, Cable],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    day, cable = laptop
    booth = Booth(client, world)
    await booth.schedule()
    # Before leaving: the officer logs in on the laptop; the session brings the data key and the sealing key.
    await day.login(
        username=world.a.usernames[Role.officer], password=PASSWORD, totp=None, booth_id=booth.booth["id"]
    )
    # At the lobby: no network for most of the day. Ten applicants, one of whom has filed a move meanwhile.
    cable.up = False
    sids = [shinseisho_id() for _ in range(10)]
    ids = [day.record(capture(world.a.municipality_code, sid)) for sid in sids]
    report = await day.sync()
    assert report.offline
    assert report.synced == 0
    assert cable.refused > 0
    assert day.progress()["waiting"] == 10
    # A neighbour whose municipality accepts no forwarding is turned away before anything is captured.
    assert not day.can_receive(world.b.municipality_code)
    with pytest.raises(NotReceivable):
        day.record(capture(world.b.municipality_code))
    # Late afternoon the network returns; the hub answers one case with a 500 the first time.
    cable.up = True
    cable.fail_once.add(ids[2])
    first = await day.sync()
    assert (first.synced, first.failed, first.offline) == (9, 1, False)
    second = await day.sync()  # the one that failed goes now; nothing is sent twice
    assert (second.synced, second.failed) == (1, 0)
    assert (await day.sync()).synced == 0
    async with sessionmaker() as session:
        booth_cases = await session.scalar(
            select(func.count()).select_from(Case).where(Case.channel == "booth")
        )
        synced = await session.scalar(select(func.count()).select_from(BoothCase))
    assert booth_cases == 10
    assert synced == 10
    # The booth's own tables hold ids and codes only: no 申請書ID, no PIN, no photo (docs/booths.md §Sync).
    async with sessionmaker() as session:
        rows = [
            repr({c.key: getattr(row, c.key) for c in row.__table__.columns})
            for model in (BoothCase, BoothPending)
            for row in (await session.execute(select(model))).scalars()
        ]
    assert rows
    for text in rows:
        assert not any(sid in text for sid in sids), text
        assert "ABCD1234" not in text
    # The hub's own checks, then J-LIS.
    await app.state.integrations.worker.run_once()
    assert await booth_tasks.run_due(sessionmaker, StandingSimulator(moving={sids[4]})) == 10
    await app.state.integrations.worker.run_once()
    listed = await day.hub_cases()
    assert [c.client_case_id for c in listed] == ids
    held = [c for c in listed if c.hold is wire.HoldStatus.held]
    assert [(c.client_case_id, c.hold_reason) for c in held] == [(ids[4], "planned_move")]
    assert sum(1 for c in listed if c.state == "submitted_to_jlis") == 9
    # The municipal report counts the booth channel like any other.
    month = clock.now().astimezone(dt.timezone(dt.timedelta(hours=9))).strftime("%Y-%m")
    monthly = await client.get(
        f"/api/v1/reports/municipalities/{world.a.municipality_code}/months/{month}",
        headers=world.h("a", Role.supervisor),
    )
    assert monthly.status_code == 200, monthly.text
    channels = {row["channel"]: row["figures"] for row in monthly.json()["by_channel"]}
    assert channels["booth"]["received"] == 10
    assert channels["booth"]["approved"] == 10
    assert channels["booth"]["submitted_to_jlis"] == 9
    assert channels["counter"]["received"] == 0
    progress = day.progress(listed)
    assert (progress["recorded"], progress["synced"], progress["held"], progress["submitted"]) == (
        10,
        10,
        1,
        9,
    )


async def test_local_data_is_unreadable_without_the_key(
    client: httpx.AsyncClient, world: World, laptop: tuple[BoothDay, Cable], tmp_path: Path
) -> None:
    day, _cable = laptop
    booth = Booth(client, world)
    await booth.schedule()
    await day.login(
        username=world.a.usernames[Role.officer], password=PASSWORD, totp=None, booth_id=booth.booth["id"]
    )
    sid = shinseisho_id()
    case_id = day.record(capture(world.a.municipality_code, sid))
    raw = (tmp_path / "booth.sqlite3").read_bytes()
    assert sid.encode() not in raw
    assert b"ABCD1234" not in raw
    assert _photo_bytes()[:64] not in raw
    assert day.store.content(case_id)["shinseisho_id"] == sid
    # A copy of the file without the key, or with another key, tells nothing.
    thief = BoothStore(tmp_path / "booth.sqlite3")
    with pytest.raises(StoreLocked):
        thief.content(case_id)
    thief.unlock(bytes(32))
    with pytest.raises(StoreLocked):
        thief.content(case_id)
    thief.close()


async def test_a_revoked_laptop_is_wiped_at_next_contact(
    client: httpx.AsyncClient, world: World, laptop: tuple[BoothDay, Cable], tmp_path: Path
) -> None:
    day, cable = laptop
    booth = Booth(client, world)
    await booth.schedule()
    session = await day.login(
        username=world.a.usernames[Role.officer], password=PASSWORD, totp=None, booth_id=booth.booth["id"]
    )
    cable.up = False
    day.record(capture(world.a.municipality_code))
    cable.up = True
    # Announced while briefly online, then the laptop is lost before it syncs.
    await day.hub.announce(
        session.id,
        [wire.PendingCase(client_case_id=c.case_id, sequence=c.sequence) for c in day.store.cases()],
    )
    revoked = await client.post(
        f"/api/v1/booth-sessions/{session.id}/revoke",
        json={"reason": "lost"},
        headers=world.h("a", Role.supervisor),
    )
    assert [p.get("sequence") for p in revoked.json()["pending"]] == [1]
    with pytest.raises(BoothWiped):
        await day.sync()
    assert day.wiped
    assert not (tmp_path / "booth.sqlite3").exists()
    # After a restart the laptop cannot get its key back either.
    again = BoothDay(BoothStore(tmp_path / "again.sqlite3"), day.hub)
    again.store.set_meta("session_id", session.id)
    with pytest.raises(BoothWiped):
        await again.resume()


async def test_a_clerk_cannot_open_a_booth(
    client: httpx.AsyncClient, world: World, laptop: tuple[BoothDay, Cable]
) -> None:
    day, _cable = laptop
    booth = Booth(client, world)
    await booth.schedule()
    from clerk_agent.link.hub import HubRefused

    with pytest.raises(HubRefused) as refused:
        await day.login(
            username=world.a.usernames[Role.clerk], password=PASSWORD, totp=None, booth_id=booth.booth["id"]
        )
    assert refused.value.status in (403, 404)
    assert day.session is None
