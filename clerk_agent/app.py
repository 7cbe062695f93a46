"""`clerk-agent run`: the hub link, the card monitor and the local UI in one asyncio TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Coroutine

import uvicorn
from starlette.types import ASGIApp

from clerk_agent.config import AgentSettings
from clerk_agent.flows.cardadmin import CardAdmin, LocalCardAdmin, RelayIssuerChannel
from clerk_agent.flows.cardslot import CardSlot, PcscSlot, VirtualSlot
from clerk_agent.flows.counter import CounterFlow
from clerk_agent.flows.idchips import ChipSource, pcsc_chip_source
from clerk_agent.flows.idchips_jp import VirtualDocuments
from clerk_agent.flows.station import PrintStation
from clerk_agent.link.auth import DeviceAuth
from clerk_agent.link.client import HubClient
from clerk_agent.link.hub import HubLink, hub_http_client
from clerk_agent.link.store import LocalStore
from clerk_agent.media import open_media
from clerk_agent.printing.ipp import IppPrinter
from clerk_agent.ui.server import create_ui

logger = logging.getLogger(__name__)


def card_slot(settings: AgentSettings) -> CardSlot:
    """The configured reader: the in-process virtual card or a PC/SC reader by name."""
    if settings.virtual_card:
        return VirtualSlot(settings.pki_dir, settings.virtual_person, settings.virtual_card_generation)
    return PcscSlot(settings.card_source)


def chip_source(settings: AgentSettings) -> ChipSource | None:
    """The ID-document reader: the configured contactless reader, else with the virtual card the demo's virtual
    documents (a passport, a licence, residence cards; the clerk screen chooses which lies on the reader)."""
    if settings.document_reader:
        return pcsc_chip_source(settings.document_reader)
    if settings.virtual_card:
        return VirtualDocuments(settings.pki_dir, settings.virtual_person, settings.virtual_document)
    return None


def bind_local(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 only (port 0: the kernel picks one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


async def serve_with(
    app: ASGIApp,
    sock: socket.socket,
    flow: Coroutine[object, object, None],
    slot: CardSlot,
    *,
    ready: asyncio.Event | None,
    name: str,
) -> None:
    """A local UI, its flow and the card monitor in one TaskGroup until uvicorn returns (signal); `ready` is set once
    the UI answers. The counter and the lobby terminal both run this way."""
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws="none")
    )
    async with asyncio.TaskGroup() as group:
        serving = group.create_task(server.serve(sockets=[sock]), name=f"{name}-ui")
        flow_task = group.create_task(flow, name=f"{name}-flow")
        card_task = group.create_task(slot.watch(), name="card-monitor")
        if ready is not None:
            # uvicorn exposes readiness only as a flag, so it is polled.
            while not server.started:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            ready.set()
        await serving
        # uvicorn returned (signal): stop the rest with it.
        flow_task.cancel()
        card_task.cancel()


async def run(
    settings: AgentSettings,
    *,
    ready: asyncio.Event | None = None,
    sock: socket.socket | None = None,
    card_admin: Callable[[CardSlot, HubLink], CardAdmin] | None = None,
) -> None:
    """Run the agent until cancelled (or SIGINT/SIGTERM through uvicorn).

    `card_admin` builds the card work's seam from the slot and the hub link; by default the counter does a PIN
    change on the card itself and everything else over the issuer's channel relayed through the hub
    (clerk_agent/flows/cardadmin.py `RelayIssuerChannel`).
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = LocalStore(settings.data_dir / "agent.sqlite3")
    auth = DeviceAuth.from_pem_file(settings.device_id, settings.key_file)
    slot = card_slot(settings)
    sock = sock or bind_local(settings.ui_port)
    async with hub_http_client(
        settings.hub_url,
        auth,
        ca_file=settings.hub_ca_file,
        cert_file=settings.client_cert_file,
        key_file=settings.client_key_file,
    ) as http:
        link = HubLink(http, backoff_max_s=settings.backoff_max_seconds)
        media = await open_media(settings)  # MediaSettingsError says which device setting is wrong
        # The card work's seam (docs/card-procedures.md §Seam): the card's own commands and the issuer's channel.
        admin = (
            card_admin(slot, link)
            if card_admin is not None
            else LocalCardAdmin(slot, RelayIssuerChannel(link, slot))
        )
        flow = CounterFlow(
            link,
            store,
            slot,
            poll_s=settings.poll_seconds,
            media=media,
            chips=chip_source(settings),
            card_admin=admin,
        )
        # The back office's print station (certificates at the post office) shares the counter's link and camera.
        printer = IppPrinter(settings.printer_uri) if settings.printer_uri else None
        station = PrintStation(HubClient(link), printer)
        app = create_ui(flow, hub_url=settings.hub_url, station=station)
        port = sock.getsockname()[1]
        logger.warning("counter UI: http://127.0.0.1:%d/ (applicant: /applicant)", port)
        try:
            await serve_with(app, sock, flow.run(), slot, ready=ready, name="counter")
        finally:
            with contextlib.suppress(Exception):
                store.close()
