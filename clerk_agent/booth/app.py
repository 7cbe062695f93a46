"""`clerk-agent booth`: the booth desk, its periodic sync and its local UI in one asyncio TaskGroup (docs/booths.md)."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import uvicorn

from clerk_agent.app import bind_local
from clerk_agent.booth.day import BoothDay
from clerk_agent.booth.desk import Desk
from clerk_agent.booth.hub import BoothHub
from clerk_agent.booth.store import BoothStore
from clerk_agent.booth.ui import create_booth_ui
from clerk_agent.config import AgentSettings
from clerk_agent.link.auth import DeviceAuth
from clerk_agent.link.hub import HubLink, hub_http_client
from clerk_agent.photo.camera import SceneCamera
from clerk_agent.photo.faces import look_of

logger = logging.getLogger(__name__)


async def serve_desk(desk: Desk, sock: socket.socket, *, ready: asyncio.Event | None = None) -> None:
    """The booth UI and the desk's sync loop until the server stops (signal) or the task is cancelled."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_booth_ui(desk), log_level="warning", access_log=False, lifespan="off", ws="none"
        )
    )
    async with asyncio.TaskGroup() as group:
        serving = group.create_task(server.serve(sockets=[sock]), name="booth-ui")
        syncing = group.create_task(desk.run(), name="booth-sync")
        if ready is not None:
            # uvicorn exposes readiness only as a flag, so it is polled (as clerk_agent/app.py serve_with does).
            while not server.started:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            ready.set()
        await serving
        syncing.cancel()  # uvicorn returned (signal): stop the sync loop with it


async def run_booth(settings: AgentSettings, *, booth_id: str, store_path: Path, port: int) -> None:
    """Run the booth desk until cancelled (or SIGINT/SIGTERM through uvicorn)."""
    auth = DeviceAuth.from_pem_file(settings.device_id, settings.key_file)
    sock = bind_local(port)
    camera = SceneCamera(person=look_of("booth-applicant"))
    async with hub_http_client(
        settings.hub_url,
        auth,
        ca_file=settings.hub_ca_file,
        cert_file=settings.client_cert_file,
        key_file=settings.client_key_file,
    ) as http:
        day = BoothDay(BoothStore(store_path), BoothHub(HubLink(http)))
        desk = Desk(day, camera, booth_id=booth_id)
        logger.warning("booth UI: http://127.0.0.1:%d/", sock.getsockname()[1])
        await serve_desk(desk, sock)
