"""Fixed samples of a hypothesis strategy, shared by the fuzzing tests so every run sends the same requests."""

from __future__ import annotations

from typing import TypeVar

import hypothesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st

T = TypeVar("T")


def fixed_examples(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """Up to `count` examples of `strategy`, the same ones every run (derandomized, no example database).

    Raises hypothesis' Unsatisfiable when the strategy cannot produce any.
    """
    found: list[T] = []

    @hypothesis.given(strategy)
    @hypothesis.settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(example: T) -> None:
        found.append(example)

    collect()
    return found
