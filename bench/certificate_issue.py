"""Time of the hub's issuance of one certificate copy: render (A4 PDF), PAdES-sign, seal; and its check on upload.

Beside it, measured in the same run, the floor: one bare RSA-2048 signature and one AES-GCM seal of the same bytes,
so the figure shows what rendering and the PDF signature add to what any signed, sealed copy costs.

    .venv/bin/python bench/certificate_issue.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

from service.certificates.issuer import IssueInput, IssueStamp, render_pdf  # noqa: E402
from service.certificates.signing import SigningAuthority, generate_root  # noqa: E402
from service.integrations.resident import CertificateRecord, ResidentStatus  # noqa: E402
from service.kit.envelope import Keyring, aad_for  # noqa: E402
from service.wire.certificates import CertificateKind, CertificateOption, Scope  # noqa: E402

RECORD = CertificateRecord(
    resident_id="SIM000001",
    municipality_code="990019",
    card_serial="ab",
    name="試験 花子",
    name_kana="シケン ハナコ",
    birth_date=dt.date(1980, 4, 1),
    sex="女",
    address="架空県架空市本町1番地",
    household_id="H1",
    head_of_household="試験 花子",
    relationship="世帯主",
    honseki="架空県架空市本町1番地",
    hittousha="試験 花子",
    status=ResidentStatus.resident,
    support_measure=False,
    card_issued_on=dt.date(2024, 1, 1),
    moved_in_on=dt.date(2010, 4, 1),
)


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:7.1f} ms  p90 {sorted(samples)[int(len(samples) * 0.9) - 1] * 1000:7.1f} ms"


async def main(rounds: int) -> None:
    authority = SigningAuthority(generate_root(Path(tempfile.mkdtemp(prefix="bench-cert-"))))
    signer = authority.signer_for("990019", "窓口市")
    keyring = Keyring.generate()
    source = IssueInput(
        "990019",
        "窓口市",
        CertificateKind.juminhyo,
        Scope.self_only,
        (CertificateOption.setainushi,),
        1,
        RECORD,
        (RECORD,),
    )
    render_pdf(
        source, IssueStamp("0", "AAAA-AAAA-AAAA", "http://hub.test/verify/x", dt.datetime.now())
    )  # warm fonts
    issue, check, floor = [], [], []
    for n in range(rounds):
        stamp = IssueStamp(
            f"20261202-{n:08d}", "ABCD-EFGH-JKLM", "http://hub.test/verify/ABCD-EFGH-JKLM", dt.datetime.now()
        )
        started = time.perf_counter()
        pdf, _ = render_pdf(source, stamp)
        signed = await authority.sign(pdf, signer, reason="bench", binding="0000000000:" + "0" * 64)
        keyring.seal(signed, aad_for(case_id="bench", field="certificate_pdf", object_id=str(n)))
        issue.append(time.perf_counter() - started)
        started = time.perf_counter()
        if not await authority.check(signed):
            raise SystemExit("the signed copy does not verify")
        check.append(time.perf_counter() - started)
        started = time.perf_counter()
        signer.signer._key.sign(signed, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[attr-defined]
        keyring.seal(signed, aad_for(case_id="bench", field="certificate_pdf", object_id=str(n)))
        floor.append(time.perf_counter() - started)
    print(
        f"certificate copy, {rounds} rounds (1 page, {len(signed)} bytes); load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  render + PAdES sign + seal  {_ms(issue)}")
    print(f"  upload check (signature)    {_ms(check)}")
    print(f"  floor: RSA sign + seal      {_ms(floor)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(main(parser.parse_args().rounds))
