"""Outreach booths at the hub: schedule, a session bound to officer and laptop, sync once, re-check, revoke.

docs/booths.md. Runs on SQLite and PostgreSQL like every hub test.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import secrets
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.booths import tasks as booth_tasks
from service.booths.standing import StandingSimulator
from service.cases.models import Case
from service.config import Settings
from service.integrations.models import JlisSubmission
from service.kit import clock
from service.wire.device_auth import b64url
from service.wire.pin_seal import open_sealed, seal
from tests.factories import ELIGIBLE, World, shinseisho_id
from tests.service.conftest import CaseDriver

TOKYO = dt.timezone(dt.timedelta(hours=9))
CHECKLIST = {
    "id_combination": "A1_with_pin",
    "face_match": True,
    "attributes_match": True,
    "eligibility_confirmed": True,
    "documents_authentic": True,
}
PINS = {"sign_password": b"ABCD1234", "auth_pin": b"1111", "juki_pin": b"2222", "kenhojo_pin": b"3333"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The J-LIS simulator on, so that a cleared booth case goes all the way to its submission."""
    return settings.model_copy(update={"jlis_adapter": "simulator"})


def photo() -> str:
    out = io.BytesIO()
    Image.new("RGB", (480, 600), (200, 180, 160)).save(out, format="JPEG")
    return base64.b64encode(out.getvalue()).decode()


def client_case_id() -> str:
    return "case_" + secrets.token_urlsafe(18)


class Booth:
    """A booth of tenant A at its office today and tomorrow, opened by A's officer on A's laptop."""

    def __init__(self, client: httpx.AsyncClient, world: World) -> None:
        self.client, self.world = client, world
        self.private = X25519PrivateKey.generate()
        self.session: dict[str, Any] = {}
        self.booth: dict[str, Any] = {}

    async def schedule(self) -> dict[str, Any]:
        world = self.world
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        key = await self.client.put(
            f"/api/v1/municipalities/{world.a.municipality_code}/pin-sealing-key",
            json={"public_key": b64url(raw)},
            headers=world.admin_headers,
        )
        assert key.status_code == 200, key.text
        me = await self.client.get("/api/v1/auth/me", headers=world.h("a", Role.officer))
        today = clock.now().astimezone(TOKYO).date()
        created = await self.client.post(
            "/api/v1/booths",
            json={
                "post_office_id": world.a.post_office_id,
                "starts_on": today.isoformat(),
                "ends_on": (today + dt.timedelta(days=1)).isoformat(),
                "officer_ids": [me.json()["id"]],
                "slots": [
                    {"day": today.isoformat(), "starts_at": f"{h:02d}:00", "capacity": 4} for h in (9, 10, 11)
                ],
                "note": "ロビー東側",
            },
            headers=world.h("a", Role.supervisor),
        )
        assert created.status_code == 201, created.text
        self.booth = dict(created.json())
        return self.booth

    async def open(self, role: Role = Role.officer) -> httpx.Response:
        token = self.world.h("a", role)["Authorization"].split(" ", 1)[1]
        response = await self.world.device_a.post(
            "/api/v1/booth-sessions", json={"booth_id": self.booth["id"], "officer_token": token}
        )
        if response.status_code == 201:
            self.session = dict(response.json())
        return response

    def case(self, sequence: int, *, residence: str | None = None, sid: str | None = None) -> dict[str, Any]:
        cid = client_case_id()
        now = clock.now()
        sealed = seal(self.private.public_key(), case_id=cid, pins={k: bytearray(v) for k, v in PINS.items()})
        return {
            "client_case_id": cid,
            "sequence": sequence,
            "recorded_at": now.isoformat(),
            "residence_municipality_code": residence or self.world.a.municipality_code,
            "shinseisho_id": sid or shinseisho_id(),
            "answers": ELIGIBLE,
            "stills": [{"kind": "application_photo", "content_type": "image/jpeg", "data": photo()}],
            "decision": {
                "action": "approve",
                "attested": True,
                "checklist": CHECKLIST,
                "decided_at": now.isoformat(),
            },
            "sealed": sealed.model_dump(),
        }

    async def sync(self, body: dict[str, Any]) -> httpx.Response:
        return await self.world.device_a.post(f"/api/v1/booth-sessions/{self.session['id']}/cases", json=body)


@pytest.fixture
async def booth(client: httpx.AsyncClient, world: World) -> Booth:
    b = Booth(client, world)
    await b.schedule()
    opened = await b.open()
    assert opened.status_code == 201, opened.text
    return b


async def test_schedule_slots_count_bookings_only(
    booth: Booth, client: httpx.AsyncClient, world: World
) -> None:
    slot = booth.booth["slots"][0]
    booked = await client.post(
        f"/api/v1/booths/{booth.booth['id']}/slots/{slot['id']}/bookings",
        json={"change": 3},
        headers=world.h("a", Role.supervisor),
    )
    assert booked.status_code == 200, booked.text
    assert booked.json()["booked"] == 3
    full = await client.post(
        f"/api/v1/booths/{booth.booth['id']}/slots/{slot['id']}/bookings",
        json={"change": 2},
        headers=world.h("a", Role.supervisor),
    )
    assert full.status_code == 409
    assert full.json()["code"] == "booth_slot_full"
    # Another municipality's supervisor sees nothing of it.
    other = await client.get(f"/api/v1/booths/{booth.booth['id']}", headers=world.h("b", Role.supervisor))
    assert other.status_code == 404


async def test_session_carries_the_data_key_and_sealing_key_and_only_an_officer_opens_it(
    booth: Booth,
) -> None:
    assert len(base64.urlsafe_b64decode(booth.session["data_key"] + "=")) == 32
    assert booth.session["sealing_key_id"]
    assert booth.session["officer_id"]
    assert booth.session["device_id"] == booth.world.a.device_id
    for role in (Role.clerk, Role.supervisor):
        refused = await booth.open(role)
        assert refused.status_code in (403, 404), refused.text
    again = await booth.world.device_a.get(f"/api/v1/booth-sessions/{booth.session['id']}")
    assert again.json()["data_key"] == booth.session["data_key"]


async def test_a_booth_day_syncs_ten_cases_once_holds_the_one_moving_and_submits_the_rest(
    booth: Booth,
    app: Any,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    bodies = [booth.case(n) for n in range(1, 11)]
    moving = bodies[6]["shinseisho_id"]
    announced = await booth.world.device_a.post(
        f"/api/v1/booth-sessions/{booth.session['id']}/pending",
        json={"cases": [{"client_case_id": b["client_case_id"], "sequence": b["sequence"]} for b in bodies]},
    )
    assert announced.json() == {"pending": 10}
    answers = []
    for body in bodies:
        first = await booth.sync(body)
        assert first.status_code == 200, first.text
        assert first.json()["outcome"] == "accepted", first.text
        replay = await booth.sync(body)  # the laptop never heard the answer and sends it again
        assert replay.json() == first.json()
        assert replay.headers.get("Idempotent-Replayed") == "true"
        answers.append(first.json())
    assert [a["state"] for a in answers] == ["pin_request_sealed"] * 10
    changed = dict(bodies[0], answers={**ELIGIBLE, "applicant_present": True}, sequence=1, stills=[])
    assert (await booth.sync(changed)).status_code == 422
    async with sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(Case).where(Case.channel == "booth"))
    assert count == 10
    # The sealed PIN request opens for the case id the laptop made offline.
    # The hub's re-check: one resident has filed a planned move meanwhile.
    standing = StandingSimulator(moving={moving})
    await app.state.integrations.worker.run_once()  # case.finalized fans out: the submissions wait, held
    async with sessionmaker() as session:
        statuses = set((await session.execute(select(JlisSubmission.status))).scalars())
    assert statuses == {"held"}
    assert await booth_tasks.run_due(sessionmaker, standing) == 10
    await app.state.integrations.worker.run_once()
    listed = (await booth.world.device_a.get(f"/api/v1/booth-sessions/{booth.session['id']}/cases")).json()[
        "cases"
    ]
    assert [c["sequence"] for c in listed] == list(range(1, 11))
    held = [c for c in listed if c["hold"] == "held"]
    assert len(held) == 1
    assert held[0]["hold_reason"] == "planned_move"
    assert held[0]["client_case_id"] == bodies[6]["client_case_id"]
    assert held[0]["state"] == "pin_request_sealed"
    submitted = [c for c in listed if c["state"] == "submitted_to_jlis"]
    assert len(submitted) == 9
    pending = await booth.client.get(
        f"/api/v1/booth-sessions/{booth.session['id']}/pending", headers=booth.world.h("a", Role.supervisor)
    )
    assert pending.json()["pending"] == []
    assert open_sealed(booth.private, _sealed(bodies[0]), case_id=bodies[0]["client_case_id"])


def _sealed(body: dict[str, Any]) -> Any:
    from service.wire.pin_seal import SealedPinRequest

    return SealedPinRequest.model_validate(body["sealed"])


async def test_decision_rules_are_the_consoles(booth: Booth) -> None:
    unattested = booth.case(1)
    unattested["decision"]["attested"] = False
    answer = (await booth.sync(unattested)).json()
    assert answer["outcome"] == "refused"
    assert answer["code"] == "attestation_required"
    negative = booth.case(2)
    negative["decision"]["checklist"] = {**CHECKLIST, "face_match": False}
    assert (await booth.sync(negative)).json()["code"] == "review_incomplete"
    rejected = booth.case(3)
    rejected["decision"] = {**rejected["decision"], "action": "reject", "reason_code": "face_mismatch"}
    rejected.pop("sealed")
    answer = (await booth.sync(rejected)).json()
    assert answer["outcome"] == "accepted", answer
    assert answer["state"] == "rejected", answer
    late = booth.case(4)
    late["recorded_at"] = (clock.now() + dt.timedelta(days=5)).isoformat()
    assert (await booth.sync(late)).json()["code"] == "booth_outside_dates"


async def test_conflict_when_the_resident_applied_elsewhere_meanwhile(booth: Booth, world: World) -> None:
    sid = shinseisho_id()
    elsewhere = await world.device_a.post(
        "/api/v1/cases",
        json={
            "municipality_code": world.a.municipality_code,
            "procedure": "card_application",
            "shinseisho_id": sid,
        },
    )
    assert elsewhere.status_code == 201, elsewhere.text
    answer = (await booth.sync(booth.case(1, sid=sid))).json()
    assert answer["outcome"] == "conflict"
    assert answer["case_id"] is None
    listed = (await world.device_a.get(f"/api/v1/booth-sessions/{booth.session['id']}/cases")).json()["cases"]
    assert listed[0]["outcome"] == "conflict"


async def test_neighbouring_resident_needs_forwarding(
    booth: Booth, client: httpx.AsyncClient, world: World
) -> None:
    assert booth.session["forwarding_from"] == []
    refused = (await booth.sync(booth.case(1, residence=world.b.municipality_code))).json()
    assert refused["code"] == "booth_forwarding_not_accepted"
    configured = await client.put(
        f"/api/v1/municipalities/{world.b.municipality_code}/booth-forwarding",
        json={"accepts_from": [world.a.municipality_code]},
        headers=world.admin_headers,
    )
    assert configured.status_code == 200, configured.text
    again = (await world.device_a.get(f"/api/v1/booth-sessions/{booth.session['id']}")).json()
    assert again["forwarding_from"] == [world.b.municipality_code]
    # The booth's residence choice names the municipality, not only its code (tests/service/conftest.py's 乙町).
    assert again["forwarding_names"] == {world.b.municipality_code: "乙町"}
    accepted = (await booth.sync(booth.case(2, residence=world.b.municipality_code))).json()
    assert accepted["outcome"] == "accepted", accepted


async def test_a_lost_laptop_is_refused_with_a_wipe_and_its_pending_cases_listed(
    booth: Booth, client: httpx.AsyncClient, world: World
) -> None:
    bodies = [booth.case(n) for n in (1, 2, 3)]
    await world.device_a.post(
        f"/api/v1/booth-sessions/{booth.session['id']}/pending",
        json={"cases": [{"client_case_id": b["client_case_id"], "sequence": b["sequence"]} for b in bodies]},
    )
    assert (await booth.sync(bodies[0])).json()["outcome"] == "accepted"
    revoked = await client.post(
        f"/api/v1/booth-sessions/{booth.session['id']}/revoke",
        json={"reason": "lost"},
        headers=world.h("a", Role.supervisor),
    )
    assert revoked.status_code == 200, revoked.text
    assert [p["sequence"] for p in revoked.json()["pending"]] == [2, 3]
    contact = await world.device_a.get(f"/api/v1/booth-sessions/{booth.session['id']}")
    assert contact.status_code == 401
    assert contact.json()["code"] == "device_revoked"


async def test_the_session_is_bound_to_its_laptop(booth: Booth, world: World) -> None:
    other = await world.device_b.get(f"/api/v1/booth-sessions/{booth.session['id']}")
    assert other.status_code == 404
    synced = await world.device_b.post(
        f"/api/v1/booth-sessions/{booth.session['id']}/cases", json=booth.case(1)
    )
    assert synced.status_code == 404


async def test_review_in_person_is_refused_outside_a_booth(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    case = await driver.create()
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    refused = await client.post(
        f"/api/v1/cases/{case['id']}/review-in-person", json={}, headers=world.h("a", Role.officer)
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "booth_only"


async def test_another_municipality_reaches_nothing_of_the_booth(
    booth: Booth, client: httpx.AsyncClient, world: World
) -> None:
    session_id = booth.session["id"]
    for method, url, body in (
        ("GET", f"/api/v1/booths/{booth.booth['id']}", None),
        ("GET", f"/api/v1/booth-sessions/{session_id}/pending", None),
        ("POST", f"/api/v1/booth-sessions/{session_id}/revoke", {"reason": "lost"}),
    ):
        answer = await client.request(method, url, json=body, headers=world.h("b", Role.supervisor))
        assert answer.status_code == 404, (url, answer.text)
    listed = await client.get("/api/v1/booths", headers=world.h("b", Role.officer))
    assert listed.json() == []
    # The clerk of the booth's own office neither reads nor revokes it.
    clerk = await client.get(f"/api/v1/booths/{booth.booth['id']}", headers=world.h("a", Role.clerk))
    assert clerk.status_code in (403, 404)


async def test_a_sequence_number_names_one_case(booth: Booth) -> None:
    assert (await booth.sync(booth.case(1))).json()["outcome"] == "accepted"
    again = await booth.sync(booth.case(1))  # another case id under a sequence already synced
    assert again.status_code == 422
    assert again.json()["code"] == "booth_sync_mismatch"
