"""The retention job deletes finished webhook deliveries and dispatched outbox events past the setting; the
finalized-case feed, pending deliveries and undispatched events are untouched."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import service as accounts_service
from service.accounts.roles import SYSTEM, Scope
from service.db import unit_of_work
from service.kit import clock
from service.outbox import service as outbox_service
from service.outbox.models import OutboxEvent, WebhookDelivery
from service.outbox.repository import DEAD, PENDING, SUCCEEDED
from service.outbox.retention import purge_finished
from tests.factories import World
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver


async def _count(session: AsyncSession, model: type[OutboxEvent] | type[WebhookDelivery]) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_finished_rows_go_the_feed_stays(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessionmaker) as session:
        _, _, manager_key = await accounts_service.create_client(
            session,
            actor=SYSTEM,
            municipality_code=world.a.municipality_code,
            name="webhooks",
            scopes=[Scope.webhooks_manage, Scope.cases_read],
            key_ttl_days=30,
        )
    key = {"Authorization": f"ApiKey {manager_key}"}
    subscribed = await client.post(
        "/api/v1/webhook-subscriptions",
        json={"url": "https://backoffice.example/hook", "event_types": ["case.queued", "case.decided"]},
        headers=key,
    )
    assert subscribed.status_code == 201, subscribed.text
    case = await driver.to_review()
    await driver.officer(case["id"], "approve", attested=True)
    await driver.finalize(case["id"])
    queued_only = await driver.create()
    await driver.device(queued_only["id"], "check-in")
    await driver.device(queued_only["id"], "precheck", answers=ELIGIBLE)
    await driver.device(queued_only["id"], "consents", consents=CONSENTS)
    await driver.device(queued_only["id"], "request-verification")
    async with unit_of_work(sessionmaker) as session:
        # The worker's fan-out (the test environment runs no worker): queued and decided get deliveries.
        assert (await outbox_service.dispatch(session, limit=100, effects=[])).events > 0
        deliveries = (
            await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.event_seq))
        ).scalars()
        first, second = list(deliveries)[:2]
        old = clock.now() - dt.timedelta(days=1)
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == first.id)
            .values(status=SUCCEEDED, delivered_at=old)
        )
        await session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == second.id).values(status=DEAD, dead_at=old)
        )
        events_before = await _count(session, OutboxEvent)
    async with unit_of_work(sessionmaker) as session:
        nothing = await purge_finished(session, older_than_days=30)
        assert (nothing.deliveries, nothing.events) == (0, 0)  # nothing is old enough yet
    later = clock.now() + dt.timedelta(days=31)
    async with unit_of_work(sessionmaker) as session:
        purged = await purge_finished(session, older_than_days=30, now=later)
    assert purged.deliveries == 2
    assert 0 < purged.events < events_before
    async with unit_of_work(sessionmaker) as session:
        left = (await session.execute(select(WebhookDelivery))).scalars().all()
        assert left
        assert all(d.status == PENDING for d in left)
        events = (await session.execute(select(OutboxEvent))).scalars().all()
        kept = {e.seq for e in events}
        assert all(d.event_seq in kept for d in left), "an event a pending delivery needs was deleted"
        assert any(e.event_type == "case.finalized" and e.case_id == case["id"] for e in events)
    # The back office's finalized-case feed still has the case.
    feed = await client.get("/api/v1/integration/finalized-cases", headers=key)
    assert feed.status_code == 200, feed.text
    assert case["id"] in feed.text
