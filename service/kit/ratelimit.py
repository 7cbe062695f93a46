"""In-process token buckets keyed by caller (login attempts, card challenges); bounded memory."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol


class RateLimiter:
    """`capacity` tokens per key, refilled at `per_second`; the least recently used keys are forgotten past `max_keys`."""

    def __init__(
        self,
        *,
        capacity: float,
        per_second: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Spend a token; returns 0 when allowed, else the seconds until one is available."""
        now = self._clock()
        tokens, stamp = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - stamp) * self.per_second)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.per_second
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


# Per-app limiters (a fresh app, e.g. in tests, starts with full buckets): name → (capacity, refill per second).
LIMITS: dict[str, tuple[float, float]] = {
    # 20 login attempts, then one every 3 s, per client address (HUB_LOGIN_RATE_* override it).
    "login": (20, 1 / 3),
    # Password re-entry for TOTP changes: 5, then one a minute, per account (a stolen token cannot guess fast).
    "reauth": (5, 1 / 60),
    # A counter reads a card a few times per case; a device asking for nonces in a loop is refused.
    "card_challenge": (30, 0.5),
}


class _HasState(Protocol):
    @property
    def app(self) -> Any: ...


def limiter(
    request: _HasState, name: str, *, capacity: float | None = None, per_second: float | None = None
) -> RateLimiter:
    """The app's limiter called `name` (created on first use, from LIMITS unless given)."""
    state = request.app.state
    limiters: dict[str, RateLimiter] | None = getattr(state, "rate_limiters", None)
    if limiters is None:
        limiters = {}
        state.rate_limiters = limiters
    if name not in limiters:
        default_capacity, default_rate = LIMITS[name]
        limiters[name] = RateLimiter(
            capacity=capacity or default_capacity, per_second=per_second or default_rate
        )
    return limiters[name]
