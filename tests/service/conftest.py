"""Fixtures of hub tests: two tenants with every role, and a driver that walks a case through its states."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.config import Settings
from tests.factories import CONSENTS as CONSENTS  # re-exported, as ELIGIBLE
from tests.factories import ELIGIBLE as ELIGIBLE  # re-exported: many service tests import it from here
from tests.factories import World, device_client, login, make_admin, make_tenant, shinseisho_id


@pytest.fixture
async def world(
    app: object, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[World]:
    """Tenants A (99001x) and B (99002x), an admin, and logged-in headers for every role."""
    a = await make_tenant(sessionmaker, settings, prefix="99001", name="甲市", office_code="99101")
    b = await make_tenant(sessionmaker, settings, prefix="99002", name="乙町", office_code="99102")
    admin = await make_admin(sessionmaker)
    headers = {}
    for label, tenant in (("a", a), ("b", b)):
        for role, username in tenant.usernames.items():
            headers[(label, role)] = await login(client, username)
    async with device_client(app, a) as device_a, device_client(app, b) as device_b:
        yield World(a, b, await login(client, admin), headers, device_a, device_b)


class CaseDriver:
    """Walks a case of tenant A through the API, asserting each step succeeds."""

    def __init__(self, client: httpx.AsyncClient, world: World) -> None:
        self.client = client
        self.world = world

    async def create(self, procedure: str = "card_application", **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"municipality_code": self.world.a.municipality_code, "procedure": procedure}
        if procedure in ("card_application", "card_renewal"):
            body["shinseisho_id"] = shinseisho_id()
        body.update(extra)
        response = await self.world.device_a.post("/api/v1/cases", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def device(self, case_id: str, action: str, **body: Any) -> dict[str, Any]:
        response = await self.world.device_a.post(f"/api/v1/cases/{case_id}/{action}", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def officer(
        self, case_id: str, action: str, *, headers: dict[str, str] | None = None, **body: Any
    ) -> dict[str, Any]:
        """Tenant A's officer (or `headers`) acts; `accept` goes through the queue's offer as in production."""
        headers = headers or self.world.h("a", Role.officer)
        if action == "accept":
            return await self.take_offer(case_id, headers)
        response = await self.client.post(f"/api/v1/cases/{case_id}/{action}", json=body, headers=headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def take_offer(self, case_id: str, headers: dict[str, str]) -> dict[str, Any]:
        """Go available, receive the offer for `case_id`, accept it."""
        presence = await self.client.put(
            "/api/v1/officers/me/presence", json={"status": "available"}, headers=headers
        )
        assert presence.status_code == 200, presence.text
        offer = await self.client.get("/api/v1/officers/me/offer", params={"wait": 5}, headers=headers)
        assert offer.status_code == 200, f"no offer: {offer.status_code} {offer.text}"
        assert offer.json()["case_id"] == case_id, "the offer is for another case (is another case waiting?)"
        accepted = await self.client.post(f"/api/v1/offers/{offer.json()['id']}/accept", headers=headers)
        assert accepted.status_code == 200, accepted.text
        return dict(accepted.json())

    async def new_officer(self, username: str) -> dict[str, str]:
        """Another officer of tenant A, logged in."""
        created = await self.client.post(
            "/api/v1/accounts",
            json={
                "username": username,
                "display_name": "追加職員",
                "role": "officer",
                "password": "correct-horse-battery-staple",
                "municipality_code": self.world.a.municipality_code,
            },
            headers=self.world.admin_headers,
        )
        assert created.status_code == 201, created.text
        # An admin's officer waits for a second person: tenant A's supervisor activates it.
        activated = await self.client.post(
            f"/api/v1/accounts/{created.json()['id']}/activate", headers=self.world.h("a", Role.supervisor)
        )
        assert activated.status_code == 200, activated.text
        return await login(self.client, username)

    async def to_review(self, procedure: str = "card_application") -> dict[str, Any]:
        """A case in officer_review, accepted by tenant A's officer."""
        case = await self.create(procedure)
        await self.device(case["id"], "check-in")
        await self.device(case["id"], "precheck", answers=ELIGIBLE)
        await self.device(case["id"], "consents", consents=CONSENTS)
        await self.device(case["id"], "request-verification")
        await self.officer(case["id"], "accept")
        if procedure == "card_application":
            await self.upload_photo(case["id"])
        await self.device(case["id"], "capture-evidence")
        reviewing = await self.officer(case["id"], "begin-review")
        await self.complete_review(case["id"])
        return reviewing

    async def upload_photo(self, case_id: str) -> dict[str, Any]:
        """The application photo (申請用顔写真) taken at the counter (a synthetic image)."""
        out = io.BytesIO()
        Image.new("RGB", (480, 600), (200, 180, 160)).save(out, format="JPEG")
        response = await self.world.device_a.post(
            f"/api/v1/cases/{case_id}/stills",
            params={"kind": "application_photo"},
            content=out.getvalue(),
            headers={"content-type": "image/jpeg"},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def finalize(self, case_id: str) -> dict[str, Any]:
        """After approval: the PIN-less 顔認証 choice recorded at the counter (pin_request_sealed)."""
        response = await self.world.device_a.post(
            f"/api/v1/cases/{case_id}/pin-request", json={"face_auth": True}
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def complete_review(self, case_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """What the console does before a decision: video live, checklist, a passed liveness challenge."""
        headers = headers or self.world.h("a", Role.officer)
        base = f"/api/v1/cases/{case_id}"
        live = await self.client.post(f"{base}/video-status", json={"state": "live"}, headers=headers)
        assert live.status_code == 200, live.text
        checklist = {
            "id_combination": "A1_with_pin",
            "face_match": True,
            "attributes_match": True,
            "eligibility_confirmed": True,
            "documents_authentic": True,
        }
        assert (
            await self.client.put(f"{base}/checklist", json=checklist, headers=headers)
        ).status_code == 200
        challenge = await self.client.post(f"{base}/liveness-challenges", headers=headers)
        assert challenge.status_code == 201, challenge.text
        result = await self.client.post(
            f"{base}/liveness-challenges/{challenge.json()['id']}/result",
            json={"passed": True},
            headers=headers,
        )
        assert result.status_code == 200, result.text
        review = await self.client.get(f"{base}/review", headers=headers)
        assert review.json()["ready_to_decide"] is True, review.text
        return dict(review.json())


@pytest.fixture
def driver(client: httpx.AsyncClient, world: World) -> CaseDriver:
    """A CaseDriver on tenant A."""
    return CaseDriver(client, world)


@pytest.fixture(scope="session")
def dev_pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `hub dev-pki` directory for the run (two root generations, the default virtual people)."""
    from service.cardproof.devpki import main as devpki_main

    out = tmp_path_factory.mktemp("dev-pki")
    assert devpki_main(["--out", str(out), "--force"]) == 0
    return out


@pytest.fixture
def settings(database_url: str, tmp_path: Path, dev_pki_dir: Path) -> Settings:
    """Test-mode settings on the run's database, trusting the run's test PKI."""
    from service.config import Environment

    return Settings(
        environment=Environment.test,
        database_url=database_url,
        data_dir=tmp_path / "hub",
        public_origin="http://hub.test",
        dev_pki_dir=dev_pki_dir,
        # No wrap-up pause by default, so one officer can take a test's cases one after another.
        officer_wrapup_seconds=0,
    )
