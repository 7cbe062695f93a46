"""Two `hub serve` processes on one PostgreSQL: a device revoked through one closes its socket on the other."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from clerk_agent.link.auth import DeviceAuth
from clerk_agent.link.signaling import HubSignaling, SignalingRefused
from service.accounts.roles import Role
from service.config import Environment, Settings
from service.db import create_engine, create_sessionmaker
from service.wire.signaling import ByeMessage, CloseCode
from tests.factories import login, make_admin, make_tenant
from tests.service.signaling._hub import assign_officer
from tests.service.signaling.test_two_hubs import HubProcess, _wait_healthy, hubs, pg_database  # noqa: F401

pytestmark = pytest.mark.pg


async def test_revocation_on_one_replica_closes_the_socket_on_the_other(
    hubs: tuple[HubProcess, HubProcess],  # noqa: F811
    pg_database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    hub1, hub2 = hubs
    settings = Settings(environment=Environment.test, database_url=pg_database, data_dir=tmp_path / "seed")
    engine = create_engine(pg_database)
    try:
        sessionmaker = create_sessionmaker(engine)
        tenant = await make_tenant(sessionmaker, settings, prefix="99004", name="丁町", office_code="99104")
        admin = await make_admin(sessionmaker)
        await asyncio.gather(_wait_healthy(hub1), _wait_healthy(hub2))
        async with (
            httpx.AsyncClient(
                base_url=hub1.url, auth=DeviceAuth(tenant.device_id, tenant.device_key)
            ) as device,
            httpx.AsyncClient(base_url=hub2.url) as officer_http,
            httpx.AsyncClient(base_url=hub2.url) as admin_http,
        ):
            body = {"municipality_code": tenant.municipality_code, "procedure": "pin_reset"}
            created = await device.post("/api/v1/cases", json=body)
            assert created.status_code == 201, created.text
            case_id = created.json()["id"]
            await assign_officer(sessionmaker, case_id, tenant.usernames[Role.officer])
            officer_http.headers.update(await login(officer_http, tenant.usernames[Role.officer]))
            admin_http.headers.update(await login(admin_http, admin))

            clerk = HubSignaling(device, case_id, role="clerk")
            officer = HubSignaling(officer_http, case_id, role="officer")
            await clerk.connect()
            await officer.connect()
            try:
                await clerk.wait_for_peer(5)
                revoked = await admin_http.post(f"/api/v1/devices/{tenant.device_id}/revoke")
                assert revoked.status_code == 200, revoked.text

                async def until_refused() -> None:
                    async with asyncio.timeout(5):
                        while True:
                            await clerk.recv()

                with pytest.raises(SignalingRefused) as refused:
                    await until_refused()
                assert refused.value.close_code == CloseCode.FORBIDDEN
                async with asyncio.timeout(5):
                    while not isinstance(msg := await officer.recv(), ByeMessage):
                        pass
                assert msg.reason == "revoked"
            finally:
                await clerk.close(bye=False)
                await officer.close()
    finally:
        await engine.dispose()
    for hub in hubs:
        assert hub.proc.poll() is None, hub.log.read_text()[-2000:]
