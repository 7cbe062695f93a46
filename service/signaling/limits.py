"""Per-connection rate limit of signaling frames."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """`burst` frames at once, refilled at `rate` per second: a browser's burst of trickled candidates passes, a flood does not."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._at = clock()

    def take(self, now: float | None = None) -> bool:
        """Spend one token; False when none is left. `now`: the clock's reading, when the caller just took it."""
        if now is None:
            now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
