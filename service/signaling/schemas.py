"""Pydantic schemas of the signaling REST route."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

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
