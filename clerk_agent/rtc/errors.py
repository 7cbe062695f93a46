"""Errors of the media side; all are `PeerError`s so the link can treat a failed call in one place."""

from __future__ import annotations

from typing import Literal

from clerk_agent.errors import AgentError, PeerError

Phase = Literal["gather", "answer", "offer", "connect", "first_frame"]


class PeerTimeout(PeerError):
    """The far side did not reach a milestone in time (no answer, ICE/DTLS never completed, no media)."""

    retriable = True
    code = "peer_timeout"

    def __init__(self, phase: Phase, timeout_s: float) -> None:
        super().__init__(f"no {phase.replace('_', ' ')} within {timeout_s:g} s")
        self.phase = phase
        self.timeout_s = timeout_s


class PeerFailed(PeerError):
    """The connection failed or the far side left (ICE failed, DTLS failed, bye, error frame)."""

    retriable = True
    code = "peer_failed"


class IceConfigError(PeerError):
    """The ICE settings cannot work (expired TURN credentials, relay-only without a TURN server)."""

    retriable = False
    code = "ice_config"


class CaptureError(AgentError):
    """The camera gave no frame for a still in time, or the frame could not be encoded."""

    retriable = True
    code = "capture_error"
