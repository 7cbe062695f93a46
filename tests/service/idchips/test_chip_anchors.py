"""Chip trust anchors from configuration: production folders per kind, the test PKI's only where test roots count."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from clerk_agent.card.idchips.passport import FILES
from clerk_agent.card.virtual.idchips.lds import HOLDERS
from clerk_agent.card.virtual.idchips.passport import DocumentSigner, VirtualPassport, build_passport
from service.idchips.anchors import load_chip_anchors
from service.idchips.devpki import make_crl, make_issuer, make_signer, write_passport_pki
from service.idchips.verifiers import VERIFIERS
from service.wire.idchips import ChipKind, ChipRefusal


def test_production_anchors_are_read_per_kind_and_the_test_pki_only_with_test_roots(tmp_path: Path) -> None:
    csca = make_issuer("CSCA Utopia (configured)", country="UT")
    signer = make_signer(csca, "Document Signer Utopia", country="UT")
    production = tmp_path / "anchors" / "passport"
    production.mkdir(parents=True)
    (production / "csca-ut.pem").write_bytes(csca.certificate.public_bytes(serialization.Encoding.PEM))
    (production / "csca-ut.crl").write_bytes(make_crl(csca).public_bytes(serialization.Encoding.DER))
    (production / "notes.txt").write_text("ignored")
    dev = tmp_path / "dev-pki"
    dev_signer = write_passport_pki(dev)

    with_tests = load_chip_anchors(tmp_path / "anchors", dev, allow_test=True)
    production_only = load_chip_anchors(tmp_path / "anchors", dev, allow_test=False)
    assert [is_test for _, is_test in with_tests.certificates(ChipKind.passport)] == [False, True]
    assert [is_test for _, is_test in production_only.certificates(ChipKind.passport)] == [False]
    assert len(production_only.crls(ChipKind.passport)) == 1
    assert production_only.certificates(ChipKind.driving_licence) == []

    holder = HOLDERS["sato_taro"]
    now = dt.datetime.now(dt.UTC)
    configured = build_passport(holder, DocumentSigner(signer.certificate, signer.key))
    test_issued = build_passport(holder, DocumentSigner(dev_signer.certificate, dev_signer.key))
    verify = VERIFIERS[ChipKind.passport]

    def objects(passport: VirtualPassport) -> dict[str, bytes]:
        return {name: passport.files[fid] for name, fid in FILES.items()}

    ok = verify(objects(configured), production_only, now)
    assert ok.ok, ok.checks
    assert next(c.detail for c in ok.checks if c.name == "signer_revocation") == "crl"
    assert next(c.detail for c in ok.checks if c.name == "issuer_chain") is None  # not a test anchor
    assert verify(objects(test_issued), production_only, now).refusal is ChipRefusal.unknown_issuer
    marked = verify(objects(test_issued), with_tests, now)
    assert marked.ok
    assert next(c.detail for c in marked.checks if c.name == "issuer_chain") == "test_anchor"
