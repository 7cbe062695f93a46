"""The back office beyond the happy path: expiry destroys, voiding, the refund as the municipality's step, the ledger
and the monthly settlement, and who may do what."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import SYSTEM, Role
from service.audit.models import AuditEvent
from service.certificates import printing
from service.certificates import service as issuing
from service.certificates.exceptions import CertificateSystemUnavailable
from service.certificates.models import CertificateDocument, CertificateJob
from service.db import unit_of_work
from service.kit import clock
from tests.service.certificates.conftest import Office, pdf_text

TOKYO = ZoneInfo("Asia/Tokyo")


async def _sealed(sessionmaker: async_sessionmaker[AsyncSession], job_id: str) -> list[bool]:
    """Per copy of the job: whether its ciphertext still exists."""
    async with unit_of_work(sessionmaker) as session:
        docs = (
            (await session.execute(select(CertificateDocument).where(CertificateDocument.job_id == job_id)))
            .scalars()
            .all()
        )
        return [d.ciphertext is not None for d in docs]


async def test_an_uncollected_receipt_expires_and_its_document_is_destroyed(
    office: Office, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await office.configure(uncollected_minutes=15)
    swept = await office.request(office.holder())
    lazy = await office.request(office.holder())
    accepted = await office.scan(lazy["receipt"]["receipt_number"])
    assert await _sealed(sessionmaker, swept["request_id"]) == [True]
    clock.shift_for_tests(dt.timedelta(minutes=16))
    # The background sweep's unit of work, run once here instead of waiting for its interval.
    async with unit_of_work(sessionmaker) as session:
        assert await printing.expire_due(session, principal=SYSTEM) == 2
    assert await _sealed(sessionmaker, swept["request_id"]) == [False]
    assert await _sealed(sessionmaker, lazy["request_id"]) == [False]
    rescanned = await office.station.post(
        "/api/v1/certificates/scans", json={"receipt_number": swept["receipt"]["receipt_number"]}
    )
    assert rescanned.status_code == 409
    assert rescanned.json()["code"] == "receipt_expired"
    fetch = await office.station.get(
        f"/api/v1/certificates/jobs/{accepted['id']}/document",
        params={"receipt_number": accepted["receipt_number"]},
    )
    assert fetch.status_code == 409
    assert fetch.json()["code"] == "receipt_expired"
    async with unit_of_work(sessionmaker) as session:
        row = await session.get(CertificateJob, swept["request_id"])
        assert row is not None
        assert row.state == "expired"
        assert row.source_ciphertext is None
        reasons = (
            (
                await session.execute(
                    select(AuditEvent.reason_code).where(AuditEvent.action == "certificate.destroyed")
                )
            )
            .scalars()
            .all()
        )
    assert list(reasons) == ["expired", "expired"]


async def test_void_destroys_and_the_code_reports_void(office: Office) -> None:
    answer = await office.request(office.holder())
    job = await office.scan(answer["receipt"]["receipt_number"])
    copy = (await office.fetch(job)).content
    voided = await office.step(job["id"], "void", {"reason": "resident_left"})
    assert voided.json()["state"] == "voided"
    pdf = await office.station.get(
        f"/api/v1/certificates/jobs/{job['id']}/document", params={"receipt_number": job["receipt_number"]}
    )
    assert pdf.status_code == 409
    assert (await office.step(job["id"], "fee", {"amount_yen": job["fee_yen"]})).status_code == 409
    checked = await office.client.post(
        "/api/v1/verify/pdf", content=copy, headers={"content-type": "application/pdf"}
    )
    assert checked.json()["verdict"] == "voided"
    by_code = await office.client.get(f"/api/v1/verify/{checked.json()['verification_code']}")
    assert by_code.json()["verdict"] == "voided"
    assert (await office.client.get("/api/v1/verify/ZZZZ-ZZZZ-ZZZZ")).json()["verdict"] == "unknown"


async def _handed_over(office: Office, **choice: Any) -> dict[str, Any]:
    answer = await office.request(office.holder(), **choice)
    job = await office.scan(answer["receipt"]["receipt_number"])
    await office.fetch(job)
    legs = {k: job["binding"][k] for k in ("receipt_number", "nonce_sha256", "content_sha256")}
    assert (await office.step(job["id"], "printed", legs)).status_code == 200
    assert (await office.step(job["id"], "fee", {"amount_yen": job["fee_yen"]})).status_code == 200
    return dict((await office.step(job["id"], "hand-over")).json())


async def test_refund_is_the_municipalitys_step_and_the_ledgers_add_up(
    office: Office, tmp_path: Path
) -> None:
    first = await _handed_over(office)
    second = await _handed_over(office, kind="koseki_zenbu", scope=None, count=2)
    assert second["fee_yen"] == 700
    # Only after the office asks, and only the municipality's officer or supervisor records it.
    premature = await office.client.post(
        f"/api/v1/certificates/jobs/{first['id']}/refund", headers=office.world.h("a", Role.officer)
    )
    assert premature.status_code == 409
    assert (await office.step(str(first["id"]), "refund-request")).status_code == 200
    assert (await office.step(str(first["id"]), "refund-request")).status_code == 409
    foreign = await office.client.post(
        f"/api/v1/certificates/jobs/{first['id']}/refund", headers=office.world.h("b", Role.supervisor)
    )
    assert foreign.status_code == 404
    auditor = await office.client.post(
        f"/api/v1/certificates/jobs/{first['id']}/refund", headers=office.world.h("a", Role.auditor)
    )
    assert auditor.status_code == 403
    refunded = await office.client.post(
        f"/api/v1/certificates/jobs/{first['id']}/refund", headers=office.world.h("a", Role.officer)
    )
    assert refunded.status_code == 200, refunded.text

    today = clock.now().astimezone(TOKYO).date()
    day = await office.station.get("/api/v1/certificates/ledger", params={"day": today.isoformat()})
    lines = {line["kind"]: line for line in day.json()["lines"]}
    assert lines["juminhyo"]["collected_yen"] == 200
    assert lines["juminhyo"]["refunded_yen"] == 200
    assert lines["koseki_zenbu"]["certificates"] == 2
    assert day.json()["total_yen"] == 700
    other_office = await office.world.device_b.get(
        "/api/v1/certificates/ledger",
        params={"day": today.isoformat(), "post_office_id": office.world.a.post_office_id},
    )
    assert other_office.status_code == 403

    settlement = await office.client.get(
        f"/api/v1/municipalities/{office.code}/certificates/settlement",
        params={"month": f"{today:%Y-%m}"},
        headers=office.world.h("a", Role.auditor),
    )
    assert settlement.status_code == 200, settlement.text
    assert settlement.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(settlement.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["団体コード", "日付", "郵便局コード", "郵便局", "証明書"]
    assert rows[-1][3] == "合計"
    assert rows[-1][7:] == ["900", "200", "700"]
    printable = await office.client.get(
        f"/api/v1/municipalities/{office.code}/certificates/settlement.pdf",
        params={"month": f"{today:%Y-%m}"},
        headers=office.world.h("a", Role.auditor),
    )
    assert printable.status_code == 200, printable.text
    assert printable.headers["content-type"] == "application/pdf"
    text = pdf_text(printable.content, tmp_path).splitlines()
    assert any("精算書" in line and f"{today:%Y-%m}" in line for line in text)
    # The same rows as the CSV: 住民票 collected 200 and refunded 200, 戸籍 two copies for 700; totals 900/200/700.
    assert any(line.split()[:2] == [today.isoformat(), rows[1][2]] for line in text), text
    assert any("住民票の写し" in line for line in text)
    assert any(
        line.split()[:1] == ["合計"] and line.split()[-3:] == ["900", "200", "700"] for line in text
    ), text
    refused = await office.client.get(
        f"/api/v1/municipalities/{office.code}/certificates/settlement",
        params={"month": f"{today:%Y-%m}"},
        headers=office.world.h("b", Role.supervisor),
    )
    assert refused.status_code == 403
    refused_pdf = await office.client.get(
        f"/api/v1/municipalities/{office.code}/certificates/settlement.pdf",
        params={"month": f"{today:%Y-%m}"},
        headers=office.world.h("b", Role.supervisor),
    )
    assert refused_pdf.status_code == 403


async def test_configuration_is_versioned_and_only_the_municipality_changes_it(office: Office) -> None:
    path = f"/api/v1/municipalities/{office.code}/certificate-config"
    before = (await office.client.get(path, headers=office.world.h("a", Role.officer))).json()
    changed = await office.configure(minimum_age=15)
    assert changed["version"] == before["version"] + 1
    assert changed["config"]["minimum_age"] == 15
    assert (
        await office.client.put(path, json=changed["config"], headers=office.world.h("a", Role.officer))
    ).status_code == 403
    assert (
        await office.client.put(path, json=changed["config"], headers=office.world.h("b", Role.supervisor))
    ).status_code == 403
    assert (await office.client.get(path, headers=office.world.h("b", Role.officer))).status_code == 403
    kiosk = await office.kiosk.get(path)
    assert kiosk.status_code == 403


async def test_an_issue_that_never_completes_leaves_no_receipt_and_is_closed(
    office: Office, sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def system_down(*_: object, **__: object) -> None:
        raise CertificateSystemUnavailable("the municipality's certificate system does not answer")

    # The municipality's certificate system fails after the hub decided (as when its replica dies mid-issue).
    monkeypatch.setattr(issuing, "prepare_copy", system_down)
    holder = office.holder()
    body = {"municipality_code": office.code, "kind": "juminhyo", "scope": "self", "count": 1}
    challenge = (await office.kiosk.post("/api/v1/certificates/requests", json=body)).json()
    answered = await office.kiosk.post(
        f"/api/v1/certificates/requests/{challenge['request_id']}/proof", json=holder.prove(challenge)
    )
    assert answered.status_code == 503
    assert answered.json()["code"] == "certificate_system_unavailable"
    async with unit_of_work(sessionmaker) as session:
        row = await session.get(CertificateJob, challenge["request_id"])
        assert row is not None
        assert row.state == issuing.ISSUING
        number = row.receipt_number
    # Nobody holds a receipt for it: a scan of its number finds nothing, and the sweep closes it.
    scanned = await office.station.post("/api/v1/certificates/scans", json={"receipt_number": number})
    assert scanned.status_code == 404
    assert await _sealed(sessionmaker, challenge["request_id"]) == []
    clock.shift_for_tests(dt.timedelta(minutes=issuing.ISSUE_GRACE_MINUTES + 1))
    async with unit_of_work(sessionmaker) as session:
        assert await printing.expire_due(session, principal=SYSTEM) == 1
        row = await session.get(CertificateJob, challenge["request_id"])
        assert row is not None
        assert (row.state, row.close_reason) == ("expired", "issue_incomplete")
