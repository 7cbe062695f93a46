"""The signaling hub and its bus for the app's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.config import Settings
from service.signaling import service as signaling_service
from service.signaling.bus import make_bus
from service.signaling.rooms import SignalingHub


@asynccontextmanager
async def signaling_running(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[SignalingHub]:
    """Start the bus (a LISTEN connection on PostgreSQL) and the hub; close every socket, then the bus."""
    bus = make_bus(settings)
    await bus.start()
    hub = SignalingHub(
        signaling_service.hub_config(settings),
        bus=bus,
        authorize=partial(signaling_service.still_member, sessionmaker),
        ice_for=partial(signaling_service.ice_servers, settings),
        spend_ticket=partial(signaling_service.spend_ticket, sessionmaker),
    )
    try:
        yield hub
    finally:
        try:
            await hub.close()
        finally:
            await bus.close()
