"""Rate limits: login guessing and card-challenge loops get 429 with Retry-After, and record nothing."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.audit.models import AuditEvent
from service.kit.ratelimit import RateLimiter
from tests.factories import World
from tests.service.conftest import ELIGIBLE, CaseDriver


def test_bucket_refills_over_time() -> None:
    now = [0.0]
    bucket = RateLimiter(capacity=2, per_second=1, clock=lambda: now[0])
    assert bucket.take("k") == 0
    assert bucket.take("k") == 0
    assert bucket.take("k") > 0
    now[0] += 1.0
    assert bucket.take("k") == 0
    assert bucket.take("other") == 0  # keys are independent


def test_bucket_memory_is_bounded() -> None:
    bucket = RateLimiter(capacity=1, per_second=1, max_keys=3)
    for key in "abcde":
        bucket.take(key)
    assert len(bucket._buckets) == 3


async def test_login_guessing_is_throttled(
    client: httpx.AsyncClient, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    codes = []
    for i in range(25):
        response = await client.post(
            "/api/v1/auth/login", json={"username": f"nobody-{i}", "password": "wrong-password-1"}
        )
        codes.append(response.status_code)
    # The world fixture's own logins spent part of this address's budget; guessing runs out of the rest.
    assert 429 in codes
    throttled = await client.post(
        "/api/v1/auth/login", json={"username": "nobody-x", "password": "wrong-password-1"}
    )
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "too_many_requests"
    assert int(throttled.headers["retry-after"]) >= 1
    async with sessionmaker() as session:
        failed = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "auth.login_failed")
        )
    assert failed == 0  # unknown usernames leave no audit rows, throttled ones no work at all


async def test_card_challenge_loop_is_throttled(world: World, driver: CaseDriver) -> None:
    case = await driver.create("card_renewal")
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    codes = [
        (await world.device_a.post(f"/api/v1/cases/{case['id']}/card-challenges")).status_code
        for _ in range(35)
    ]
    assert codes[:30] == [201] * 30
    assert codes[-1] == 429
