"""Connection metrics as stored on a case: validated, and the pair summarised by its least direct end."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from service.wire.rtc_metrics import ConnectionMetrics

STARTED = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("local", "remote", "pair"),
    [
        ("host", "host", "host"),
        ("host", "prflx", "prflx"),
        ("srflx", "host", "srflx"),
        ("relay", "host", "relay"),
        ("prflx", "relay", "relay"),
    ],
)
def test_pair_is_as_direct_as_its_least_direct_end(local: str, remote: str, pair: str) -> None:
    metrics = ConnectionMetrics.model_validate(
        {"started_at": STARTED, "role": "offerer", "local_candidate": local, "remote_candidate": remote}
    )
    assert metrics.candidate_pair == pair


def test_a_call_that_never_connected_keeps_how_far_it_got() -> None:
    metrics = ConnectionMetrics(started_at=STARTED, role="offerer", signaling_ms=12.5)
    assert not metrics.connected
    assert metrics.candidate_pair is None
    assert ConnectionMetrics.model_validate_json(metrics.model_dump_json()) == metrics


@pytest.mark.parametrize(
    "bad",
    [
        {"started_at": datetime(2026, 11, 28, 9, 30), "role": "offerer"},  # naive: ambiguous evidence
        {"started_at": STARTED, "role": "offerer", "ice_ms": -1.0},
        {"started_at": STARTED, "role": "offerer", "local_candidate": "mdns"},
        {"started_at": STARTED, "role": "caller"},
        {"started_at": STARTED, "role": "offerer", "extra": 1},
    ],
)
def test_invalid_metrics_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ConnectionMetrics.model_validate(bad)
