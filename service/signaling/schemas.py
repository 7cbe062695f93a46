"""Pydantic schemas of the signaling REST routes: tickets and connection metrics."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

from service.wire.rtc_metrics import CandidateType, ConnectionMetrics
from service.wire.signaling import IceServer


class SignalingTicketRead(BaseModel):
    """A single-use, 30-second admission to one case's signaling room, with the participant's ICE servers."""

    ticket: str
    ws_url: str
    expires_at: dt.datetime
    room: str
    role: Literal["clerk", "officer"]
    ice_servers: list[IceServer]
    relay_only: bool


class ConnectionMetricsSubmit(ConnectionMetrics):
    """One side's connection metrics as posted (JSON: timestamps arrive as ISO strings, so not strict)."""

    model_config = ConfigDict(strict=False, extra="forbid", frozen=True)


class ConnectionMetricRead(BaseModel):
    """One side's recorded metrics for one call of a case."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    side: Literal["clerk", "officer"]
    role: Literal["offerer", "answerer"]
    started_at: dt.datetime
    signaling_ms: float | None
    ice_ms: float | None
    dtls_ms: float | None
    first_frame_ms: float | None
    first_audio_ms: float | None
    local_candidate: CandidateType | None
    remote_candidate: CandidateType | None
    candidate_pair: CandidateType | None
    created_at: dt.datetime


class ConnectionMetricList(BaseModel):
    """A case's connection metrics, oldest first."""

    items: list[ConnectionMetricRead]


class MilestoneSummary(BaseModel):
    """One milestone over the calls that reached it: count, median and 95th percentile in ms."""

    count: int
    median_ms: float | None
    p95_ms: float | None


class ConnectionMetricsSummary(BaseModel):
    """Aggregate connection metrics of the caller's municipality over a recent window."""

    since: dt.datetime
    reports: int
    connected: int
    signaling: MilestoneSummary
    ice: MilestoneSummary
    dtls: MilestoneSummary
    first_frame: MilestoneSummary
    first_audio: MilestoneSummary
    candidate_pairs: dict[str, int]
