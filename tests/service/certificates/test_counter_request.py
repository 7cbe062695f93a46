"""The counter's certificate request (証明書の交付請求, a resident without a card) through the API: the clerk records
it on a case, the officer approves it after the live identity review, and the certificate prints at the office's
station like a kiosk receipt, at the counter fee; a rejection issues nothing; other tenants see nothing; a clerk
never approves (docs/certificates.md §Counter requests)."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.certificates.models import CertificateDocument, CertificateJob
from service.certificates.signing import embedded_binding
from service.db import unit_of_work
from service.wire.certificates import pdf_binding
from tests.service.certificates.conftest import Holder, Office, pdf_text
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver

JUMINHYO = {"kind": "juminhyo", "scope": "self", "options": ["setainushi"], "count": 2}


async def _in_review(driver: CaseDriver, certificate: dict[str, Any] = JUMINHYO) -> dict[str, Any]:
    """A certificate request recorded at the counter, taken and reviewed by tenant A's officer."""
    case = await driver.create("certificate_request", certificate=certificate)
    for action, body in (
        ("check-in", {}),
        ("precheck", {"answers": ELIGIBLE}),
        ("consents", {"consents": CONSENTS}),
        ("request-verification", {}),
    ):
        await driver.device(case["id"], action, **body)
    await driver.officer(case["id"], "accept")
    await driver.device(case["id"], "capture-evidence")
    await driver.officer(case["id"], "begin-review")
    await driver.complete_review(case["id"])
    return case


async def _approve(driver: CaseDriver, case_id: str, holder: Holder) -> httpx.Response:
    return await driver.client.post(
        f"/api/v1/cases/{case_id}/approve",
        json={"attested": True, "resident_id": holder.record.resident_id},
        headers=driver.world.h("a", Role.officer),
    )


async def _jobs(sessionmaker: async_sessionmaker[AsyncSession], case_id: str) -> list[CertificateJob]:
    async with unit_of_work(sessionmaker) as session:
        query = select(CertificateJob).where(CertificateJob.case_id == case_id)
        return list((await session.execute(query)).scalars())


async def test_approved_request_prints_at_the_station_at_the_counter_fee(
    office: Office, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    holder = office.holder()
    catalogue = await office.kiosk.get(
        "/api/v1/certificates/catalogue", params={"municipality_code": office.code}
    )
    juminhyo = next(k for k in catalogue.json()["kinds"] if k["kind"] == "juminhyo")
    case = await _in_review(driver)
    asked = case["certificate"]
    assert asked["state"] == "awaiting_decision"
    assert asked["receipt_number"] is None
    assert asked["fee_yen"] == 2 * juminhyo["counter_fee_yen"] != 2 * juminhyo["kiosk_fee_yen"]

    # The officer's console reads what is asked for, with the contract's labels.
    seen = await driver.client.get(f"/api/v1/cases/{case['id']}", headers=driver.world.h("a", Role.officer))
    assert seen.status_code == 200, seen.text
    assert seen.json()["certificate"]["kind_ja"] == "住民票の写し"
    assert seen.json()["certificate"]["options"] == ["setainushi"]

    approved = await _approve(driver, case["id"], holder)
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    issued = approved.json()["certificate"]
    assert issued["state"] == "receipt_issued"
    # The counter reads the receipt number from its own case and the station scans it like a slip.
    at_counter = await driver.world.device_a.get(f"/api/v1/cases/{case['id']}")
    assert at_counter.json()["certificate"]["receipt_number"] == issued["receipt_number"]

    job = await office.scan(issued["receipt_number"])
    assert job["state"] == "accepted_by_clerk"
    binding = job["binding"]
    fetched = await office.fetch(job)
    pdf = fetched.content
    assert hashlib.sha256(pdf).hexdigest() == binding["content_sha256"]
    assert embedded_binding(pdf) == pdf_binding(binding["receipt_number"], binding["nonce_sha256"])
    (row,) = await _jobs(sessionmaker, case["id"])
    assert row.nonce is None
    assert binding["nonce_sha256"] == row.nonce_sha256
    words = pdf_text(pdf, office.tmp)
    assert holder.record.name in words
    assert "世帯主" in words
    printed = await office.step(
        job["id"], "printed", {k: binding[k] for k in ("receipt_number", "nonce_sha256", "content_sha256")}
    )
    assert printed.json()["state"] == "printed", printed.text
    kiosk_fee = await office.step(job["id"], "fee", {"amount_yen": 2 * juminhyo["kiosk_fee_yen"]})
    assert kiosk_fee.status_code == 409
    assert kiosk_fee.json()["code"] == "fee_mismatch"
    paid = await office.step(job["id"], "fee", {"amount_yen": asked["fee_yen"]})
    assert paid.json()["state"] == "fee_collected", paid.text
    handed = await office.step(job["id"], "hand-over")
    assert handed.json()["state"] == "handed_over", handed.text
    closed = await driver.device(case["id"], "close")
    assert closed["state"] == "closed"
    assert closed["certificate"]["state"] == "handed_over"

    async with unit_of_work(sessionmaker) as session:
        events = (
            (await session.execute(select(AuditEvent).where(AuditEvent.case_id == case["id"])))
            .scalars()
            .all()
        )
    actions = {e.action for e in events}
    assert {"certificate.requested_at_counter", "certificate.receipt_issued"} <= actions
    trail = " ".join(str(e.__dict__) for e in events)
    for personal in (holder.record.name, holder.record.address, holder.record.resident_id):
        assert personal not in trail


async def test_rejection_issues_nothing(
    office: Office, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case = await _in_review(driver)
    rejected = await driver.officer(case["id"], "reject", reason_code="face_mismatch", attested=True)
    assert rejected["state"] == "rejected"
    assert rejected["certificate"]["state"] == "voided"
    assert rejected["certificate"]["receipt_number"] is None
    (job,) = await _jobs(sessionmaker, case["id"])
    async with unit_of_work(sessionmaker) as session:
        query = select(CertificateDocument).where(CertificateDocument.job_id == job.id)
        assert (await session.execute(query)).first() is None
    assert job.receipt_number is None
    assert job.source_ciphertext is None


async def test_only_the_assigned_officer_approves_and_the_request_is_checked(
    office: Office,
    driver: CaseDriver,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    holder = office.holder()
    # 個人番号 is refused unless the municipality makes it selectable; a request needs its certificate.
    my_number = await driver.world.device_a.post(
        "/api/v1/cases",
        json={
            "municipality_code": office.code,
            "procedure": "certificate_request",
            "certificate": {**JUMINHYO, "options": ["kojin_bango"]},
        },
    )
    assert my_number.status_code == 409
    assert my_number.json()["code"] == "certificate_choice_refused"
    bare = await driver.world.device_a.post(
        "/api/v1/cases", json={"municipality_code": office.code, "procedure": "certificate_request"}
    )
    assert bare.status_code == 422, bare.text

    case = await _in_review(driver)
    url = f"/api/v1/cases/{case['id']}"
    body = {"attested": True, "resident_id": holder.record.resident_id}
    # The counter device and a clerk's account never approve.
    assert (await driver.world.device_a.post(f"{url}/approve", json=body)).status_code == 403
    clerk = await client.post(f"{url}/approve", json=body, headers=driver.world.h("a", Role.clerk))
    assert clerk.status_code in (403, 404), clerk.text
    # Another municipality's officer and device do not see the case at all.
    for headers in (driver.world.h("b", Role.officer), driver.world.h("b", Role.supervisor)):
        assert (await client.get(url, headers=headers)).status_code == 404
        assert (await client.post(f"{url}/approve", json=body, headers=headers)).status_code == 404
    assert (await driver.world.device_b.get(url)).status_code == 404
    # The approval names the record confirmed; an unknown one is refused and nothing changes.
    bare_approval = await client.post(
        f"{url}/approve", json={"attested": True}, headers=driver.world.h("a", Role.officer)
    )
    assert bare_approval.status_code == 422, bare_approval.text
    unknown = await client.post(
        f"{url}/approve", json={**body, "resident_id": "SIM999999"}, headers=driver.world.h("a", Role.officer)
    )
    assert unknown.status_code == 409
    assert unknown.json()["code"] == "certificate_choice_refused"
    (job,) = await _jobs(sessionmaker, case["id"])
    assert job.state == "awaiting_decision"
    assert job.receipt_number is None
    approved = await _approve(driver, case["id"], holder)
    assert approved.status_code == 200, approved.text
    receipt = approved.json()["certificate"]["receipt_number"]
    # Another office's station finds no such receipt.
    other = await driver.world.device_b.post("/api/v1/certificates/scans", json={"receipt_number": receipt})
    assert other.status_code in (403, 404), other.text
