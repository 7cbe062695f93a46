"""A stand-in for the hub's certificate API (service/wire/certificates.py) behind an httpx MockTransport.

It keeps the contract's shapes and verifies the card's signature with the hub's own card-proof code
(service/cardproof/verify.py) against the dev PKI, so the terminal's flow is tested with real cryptography; the
whole hub is exercised by the end-to-end tests.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from clerk_agent.link.hub import HubLink
from service.cardproof.trust import load_dev_pki_trust
from service.cardproof.verify import signed_bytes_for, verify_card_proof
from service.wire.certificates import (
    Catalogue,
    CertificateKind,
    CertificateOption,
    JobState,
    KindOffer,
    KioskAnswer,
    KioskChallenge,
    KioskProofBody,
    KioskRequestBody,
    Receipt,
    RefusalCode,
    Scope,
)

ORIGIN = "https://hub.test"
MUNICIPALITY = "999991"


@dataclass
class StandInHub:
    """The certificate calls the terminal makes; `down` makes every call fail to connect."""

    pki_dir: Path
    refusal: RefusalCode | None = None
    down: bool = False
    requests: dict[str, tuple[KioskRequestBody, str]] = field(default_factory=dict)
    proofs_ok: list[bool] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    seen_bodies: list[bytes] = field(default_factory=list)

    def catalogue(self) -> Catalogue:
        """住民票 (self/household, 本籍 and 世帯主 options; 個人番号 not offered) and 印鑑登録証明書."""
        return Catalogue(
            municipality_code=MUNICIPALITY,
            municipality_name="窓口市（デモ）",
            config_version=1,
            open_now=True,
            hours="06:30-23:00",
            kinds=[
                KindOffer(
                    kind=CertificateKind.juminhyo,
                    ja="住民票の写し",
                    en="Certificate of residence",
                    kiosk_fee_yen=200,
                    counter_fee_yen=300,
                    scopes=[Scope.self_only, Scope.household],
                    options=[CertificateOption.honseki, CertificateOption.setainushi],
                ),
                KindOffer(
                    kind=CertificateKind.inkan,
                    ja="印鑑登録証明書",
                    en="Seal registration certificate",
                    kiosk_fee_yen=200,
                    counter_fee_yen=300,
                ),
            ],
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        """The MockTransport handler."""
        if self.down:
            raise httpx.ConnectError("hub down", request=request)
        self.seen_bodies.append(request.content)
        path = request.url.path
        if path == "/api/v1/certificates/catalogue":
            return httpx.Response(200, json=self.catalogue().model_dump(mode="json"))
        if path == "/api/v1/certificates/requests":
            body = KioskRequestBody.model_validate_json(request.content)
            request_id, nonce = f"req_{secrets.token_hex(6)}", secrets.token_urlsafe(24)
            self.requests[request_id] = (body, nonce)
            expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
            challenge = KioskChallenge(request_id=request_id, nonce=nonce, origin=ORIGIN, expires_at=expires)
            return httpx.Response(201, json=challenge.model_dump(mode="json"))
        if path.startswith("/api/v1/certificates/requests/") and path.endswith("/proof"):
            return self._proof(path.split("/")[-2], KioskProofBody.model_validate_json(request.content))
        return httpx.Response(404, json={"code": "not_found", "detail": path})

    def _proof(self, request_id: str, proof: KioskProofBody) -> httpx.Response:
        if request_id not in self.requests:
            return httpx.Response(404, json={"code": "request_not_found"})
        body, nonce = self.requests.pop(request_id)  # single use
        result = verify_card_proof(
            certificate_der=base64.b64decode(proof.certificate),
            signature=base64.b64decode(proof.signature),
            signed_bytes=signed_bytes_for(ORIGIN, nonce, request_id),
            trust=load_dev_pki_trust(self.pki_dir),
            at=dt.datetime.now(dt.UTC),
            allow_test_roots=True,
        )
        self.proofs_ok.append(result.ok)
        if not result.ok or self.refusal is not None:
            refusal = self.refusal or RefusalCode.card_proof_failed
            answer = KioskAnswer(request_id=request_id, state=JobState.refused, refusal=refusal)
            return httpx.Response(200, json=answer.model_dump(mode="json"))
        now = dt.datetime.now(dt.UTC)
        receipt = Receipt(
            receipt_number=f"R{len(self.receipts) + 1:07d}",
            post_office_id="po_demo",
            post_office_name="窓口郵便局（デモ）",
            municipality_code=body.municipality_code,
            kind=body.kind,
            count=body.count,
            fee_yen=200 * body.count,
            issued_at=now,
            expires_at=now + dt.timedelta(minutes=60),
        )
        self.receipts.append(receipt)
        answer = KioskAnswer(request_id=request_id, state=JobState.receipt_issued, receipt=receipt)
        return httpx.Response(200, json=json.loads(answer.model_dump_json()))

    def link(self) -> tuple[HubLink, httpx.AsyncClient]:
        """A hub link whose requests this stand-in answers."""
        http = httpx.AsyncClient(base_url="http://hub.test", transport=httpx.MockTransport(self.handle))
        return HubLink(http, backoff_initial_s=0.01, backoff_max_s=0.02), http
