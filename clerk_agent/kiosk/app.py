"""`clerk-agent kiosk`: the lobby terminal's card monitor, flow and touch UI in one asyncio TaskGroup."""

from __future__ import annotations

import asyncio
import logging
import socket

from clerk_agent.app import bind_local, card_slot, serve_with
from clerk_agent.config import AgentSettings
from clerk_agent.kiosk.flow import KioskFlow
from clerk_agent.kiosk.ui import create_kiosk_ui
from clerk_agent.link.auth import DeviceAuth
from clerk_agent.link.client import HubClient
from clerk_agent.link.hub import HubLink, hub_http_client
from clerk_agent.printing.ipp import IppPrinter

logger = logging.getLogger(__name__)


async def run_kiosk(
    settings: AgentSettings, *, ready: asyncio.Event | None = None, sock: socket.socket | None = None
) -> None:
    """Run the terminal until cancelled (or SIGINT/SIGTERM through uvicorn)."""
    auth = DeviceAuth.from_pem_file(settings.device_id, settings.key_file)
    slot = card_slot(settings)
    sock = sock or bind_local(settings.kiosk_ui_port)
    printer = IppPrinter(settings.kiosk_printer_uri) if settings.kiosk_printer_uri else None
    async with hub_http_client(
        settings.hub_url,
        auth,
        ca_file=settings.hub_ca_file,
        cert_file=settings.client_cert_file,
        key_file=settings.client_key_file,
    ) as http:
        link = HubLink(http, backoff_max_s=settings.backoff_max_seconds)
        flow = KioskFlow(
            HubClient(link),
            slot,
            printer,
            municipality_code=settings.kiosk_municipality_code,
            idle_timeout_s=settings.kiosk_idle_seconds,
        )
        logger.warning("lobby terminal UI: http://127.0.0.1:%d/", sock.getsockname()[1])
        await serve_with(create_kiosk_ui(flow), sock, flow.run(), slot, ready=ready, name="kiosk")
