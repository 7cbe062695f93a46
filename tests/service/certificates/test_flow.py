"""The whole hub flow through the API: the terminal's card step and receipt, the print station, fee, hand-over, and
the public verification; nothing of the certificate left afterwards (database and log records), and an audit trail
without personal data."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.audit.models import AuditEvent
from service.certificates.models import CertificateDocument, CertificateJob
from service.certificates.signing import embedded_binding
from service.db import unit_of_work
from service.logging import JsonFormatter
from service.models import metadata
from service.wire.certificates import pdf_binding
from tests.service.certificates.conftest import Office, pdf_text


async def _all_text(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    """Every row of every table, as text (what a search of the database would find)."""
    parts: list[str] = []
    async with unit_of_work(sessionmaker) as session:
        for table in metadata.sorted_tables:
            for row in (await session.execute(text(f'SELECT * FROM "{table.name}"'))).all():  # noqa: S608
                for value in row:
                    if isinstance(value, bytes):
                        parts.append(value.decode("latin-1"))
                    elif value is not None:
                        parts.append(str(value))
    return "\n".join(parts)


async def test_terminal_to_hand_over_then_nothing_of_it_remains(
    office: Office,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every record of the flow, as the hub's JSON log lines would carry them
    holder = office.holder()
    catalogue = await office.kiosk.get(
        "/api/v1/certificates/catalogue", params={"municipality_code": office.code}
    )
    assert catalogue.status_code == 200, catalogue.text
    juminhyo = next(k for k in catalogue.json()["kinds"] if k["kind"] == "juminhyo")
    # 個人番号 is configured as an option but not selectable unless the municipality opts in.
    assert "kojin_bango" not in juminhyo["options"]
    assert juminhyo["kiosk_fee_yen"] < juminhyo["counter_fee_yen"]

    answer = await office.request(holder, options=["setainushi"], count=2)
    assert answer["state"] == "receipt_issued", answer
    receipt = answer["receipt"]
    assert receipt["fee_yen"] == 2 * juminhyo["kiosk_fee_yen"]
    assert receipt["count"] == 2
    slip = str(receipt)
    for personal in (
        holder.record.name,
        holder.record.address,
        holder.record.resident_id,
        holder.record.card_serial,
    ):
        assert personal not in slip

    job = await office.scan(receipt["receipt_number"])
    assert job["state"] == "accepted_by_clerk"
    binding = job["binding"]
    fetched = await office.fetch(job)
    pdf = fetched.content
    assert (
        hashlib.sha256(pdf).hexdigest()
        == binding["content_sha256"]
        == fetched.headers["x-certificate-content-sha256"]
    )
    assert embedded_binding(pdf) == pdf_binding(binding["receipt_number"], binding["nonce_sha256"])
    words = pdf_text(pdf, office.tmp)
    assert holder.record.name in words
    assert "世帯主" in words
    assert binding["issue_number"] in words
    assert words.count("確認コード") == 2  # one per page

    verdict = await client.post(
        "/api/v1/verify/pdf", content=pdf, headers={"content-type": "application/pdf"}
    )
    assert verdict.json()["verdict"] == "genuine", verdict.text
    code = verdict.json()["verification_code"]
    page = await client.get(f"/verify/{code.lower()}")
    assert page.status_code == 200
    assert 'data-verdict="genuine"' in page.text
    assert "住民票の写し" in page.text
    assert holder.record.name not in page.text

    printed = await office.step(
        job["id"], "printed", {k: binding[k] for k in ("receipt_number", "nonce_sha256", "content_sha256")}
    )
    assert printed.json()["state"] == "printed", printed.text
    wrong_fee = await office.step(job["id"], "fee", {"amount_yen": 1})
    assert wrong_fee.status_code == 409
    assert wrong_fee.json()["code"] == "fee_mismatch"
    paid = await office.step(job["id"], "fee", {"amount_yen": receipt["fee_yen"]})
    assert paid.json()["state"] == "fee_collected", paid.text
    handed = await office.step(job["id"], "hand-over")
    assert handed.json()["state"] == "handed_over", handed.text
    again = await office.step(job["id"], "hand-over")
    assert again.json()["state"] == "handed_over"

    # Nothing of the certificate remains: no ciphertext, no record extract, no personal data in any table.
    async with unit_of_work(sessionmaker) as session:
        row = await session.get(CertificateJob, job["id"])
        assert row is not None
        assert row.source_ciphertext is None
        assert row.source_wrapped_key is None
        docs = (await session.execute(select(CertificateDocument))).scalars().all()
        assert docs
        assert all(d.ciphertext is None and d.wrapped_key is None and d.destroyed_at for d in docs)
        actions = [
            e.action
            for e in (await session.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars().all()
            if e.object_id in (job["id"], docs[0].id)
        ]
    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert caplog.records, "the flow logged nothing to search"
    everything = await _all_text(sessionmaker) + "\n" + logged
    for personal in (
        holder.record.name,
        holder.record.name_kana,
        holder.record.address,
        holder.record.resident_id,
        holder.record.honseki or "",
        pdf[1000:1032].decode("latin-1"),
    ):
        assert personal not in everything
    assert actions == [
        "certificate.requested",
        "certificate.receipt_issued",
        "certificate.scanned",
        "certificate.released",
        "certificate.printed",
        "certificate.fee_collected",
        "certificate.handed_over",
        "certificate.destroyed",
    ]
    # The register still answers for the paper, from issuer, time, kind and digest only.
    after = await client.get(f"/api/v1/verify/{code}")
    assert after.json()["verdict"] == "genuine"
    assert after.json()["content_sha256"] == binding["content_sha256"]


async def test_duplicate_scan_is_idempotent_and_other_offices_see_nothing(office: Office) -> None:
    answer = await office.request(office.holder())
    number = answer["receipt"]["receipt_number"]
    first = await office.scan(number)
    second = await office.scan(number.replace("-", ""))
    assert first["id"] == second["id"]
    assert second["state"] == "accepted_by_clerk"
    foreign = await office.world.device_b.post("/api/v1/certificates/scans", json={"receipt_number": number})
    assert foreign.status_code == 404
    foreign_job = await office.world.device_b.get(f"/api/v1/certificates/jobs/{first['id']}")
    assert foreign_job.status_code == 404
    unknown = await office.station.post("/api/v1/certificates/scans", json={"receipt_number": "00000-00000"})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "receipt_not_found"


async def test_print_step_refuses_a_document_bound_to_another_receipt(
    office: Office, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    mine = await office.scan((await office.request(office.holder()))["receipt"]["receipt_number"])
    theirs = await office.scan((await office.request(office.holder()))["receipt"]["receipt_number"])
    # The station names another receipt: no document.
    wrong_receipt = await office.station.get(
        f"/api/v1/certificates/jobs/{mine['id']}/document",
        params={"receipt_number": theirs["receipt_number"]},
    )
    assert wrong_receipt.status_code == 409
    assert wrong_receipt.json()["code"] == "binding_mismatch"
    await office.fetch(mine)
    good = {k: mine["binding"][k] for k in ("receipt_number", "nonce_sha256", "content_sha256")}
    for leg, value in (
        ("content", theirs["binding"]["content_sha256"]),
        ("nonce", theirs["binding"]["nonce_sha256"]),
        ("receipt", theirs["binding"]["receipt_number"]),
    ):
        field = {"content": "content_sha256", "nonce": "nonce_sha256", "receipt": "receipt_number"}[leg]
        refused = await office.step(mine["id"], "printed", {**good, field: value})
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "binding_mismatch"
        assert refused.json()["leg"] == leg
    state = await office.station.get(f"/api/v1/certificates/jobs/{mine['id']}")
    assert state.json()["state"] == "print_queued"
    async with unit_of_work(sessionmaker) as session:
        recorded = (
            (
                await session.execute(
                    select(AuditEvent.reason_code).where(
                        AuditEvent.action == "certificate.binding_mismatch",
                        AuditEvent.object_id == mine["id"],
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(str(leg) for leg in recorded) == ["content", "nonce", "receipt", "receipt"]
    assert (await office.step(mine["id"], "printed", good)).json()["state"] == "printed"


async def test_reprint_supersedes_the_spoiled_copy_without_a_second_fee(
    office: Office, client: httpx.AsyncClient
) -> None:
    answer = await office.request(office.holder(), kind="inkan", scope=None)
    job = await office.scan(answer["receipt"]["receipt_number"])
    spoiled = (await office.fetch(job)).content
    failed = await office.step(job["id"], "print-failed", {"reason": "paper_jam"})
    assert failed.json()["state"] == "print_failed"
    again = await office.step(job["id"], "reprint", {"reason": "paper_jam"})
    assert again.json()["state"] == "print_queued"
    assert again.json()["reprints"] == 1
    fresh_job = again.json()
    assert fresh_job["binding"]["content_sha256"] != job["binding"]["content_sha256"]
    fresh = (await office.fetch(fresh_job)).content
    old = await client.post(
        "/api/v1/verify/pdf", content=spoiled, headers={"content-type": "application/pdf"}
    )
    new = await client.post("/api/v1/verify/pdf", content=fresh, headers={"content-type": "application/pdf"})
    assert old.json()["verdict"] == "superseded"
    assert new.json()["verdict"] == "genuine"
    # A byte changed inside the signed range: the municipality's signature no longer holds.
    middle = len(fresh) // 3
    tampered = fresh[:middle] + bytes([fresh[middle] ^ 0x01]) + fresh[middle + 1 :]
    checked = await client.post(
        "/api/v1/verify/pdf", content=tampered, headers={"content-type": "application/pdf"}
    )
    assert checked.json()["verdict"] == "tampered"
    unknown = await client.post(
        "/api/v1/verify/pdf", content=b"%PDF-1.4 nothing", headers={"content-type": "application/pdf"}
    )
    assert unknown.json()["verdict"] == "unknown"
    printed = await office.step(
        job["id"],
        "printed",
        {k: fresh_job["binding"][k] for k in ("receipt_number", "nonce_sha256", "content_sha256")},
    )
    assert printed.json()["state"] == "printed"
    fee = answer["receipt"]["fee_yen"]
    assert (await office.step(job["id"], "fee", {"amount_yen": fee})).json()["fee_paid_yen"] == fee
    ledger = await office.station.get("/api/v1/certificates/ledger", params={"day": _today(answer)})
    assert ledger.json()["total_yen"] == fee
    assert ledger.json()["lines"][0]["fees"] == 1


def _today(answer: dict[str, Any]) -> str:
    """The office's local day of the receipt (the ledger's day)."""
    issued = dt.datetime.fromisoformat(answer["receipt"]["issued_at"])
    return issued.astimezone(ZoneInfo("Asia/Tokyo")).date().isoformat()
