"""A counter agent's relay in a process of its own, killed for real (SIGKILL) before its k-th relayed command.

Run by tests/service/cardadmin/test_relay_pcsc.py: `python -m tests.service.cardadmin.relay_child HUB DEVICE KEY
CASE READER K`. The kill is the process's own SIGKILL, so nothing of it runs after: no disconnect, no cleanup;
pcscd notices the dead client and resets the card, as when a counter PC dies.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from clerk_agent.card import pcsc
from clerk_agent.flows.cardrelay import renew_certificates
from clerk_agent.link.auth import DeviceAuth
from clerk_agent.link.hub import HubLink


async def main(hub: str, device_id: str, key_file: str, case_id: str, reader: str, kill_at: int) -> None:
    """Relay a renewal until the kill."""

    def die(step: int) -> None:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    transport = pcsc.connect_with_backoff(reader, timeout=10)
    auth = DeviceAuth.from_pem_file(device_id, Path(key_file))
    async with httpx.AsyncClient(base_url=hub, auth=auth) as http:
        await renew_certificates(HubLink(http), transport, case_id, on_step=die)


if __name__ == "__main__":
    hub, device_id, key_file, case_id, reader, kill_at = sys.argv[1:7]
    asyncio.run(main(hub, device_id, key_file, case_id, reader, int(kill_at)))
