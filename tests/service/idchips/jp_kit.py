"""Helpers for the Japanese chip tests: the hub's test anchors from the generated PKI, an in-process transport."""

from __future__ import annotations

from cryptography import x509

from clerk_agent.card.virtual.idchips.jp_engine import JpFileCard
from clerk_agent.card.virtual.idchips.jp_pki import DocumentType, anchor_pems
from service.idchips.anchors import ChipAnchors, IssuerAnchors
from service.wire.idchips import ChipKind


def jp_anchors(*documents: DocumentType, allow_test: bool = True) -> ChipAnchors:
    """Test anchors for these document types, as `hub dev-pki` would write them (roots; licence signers)."""
    test: dict[ChipKind, IssuerAnchors] = {}
    for document in documents:
        certificates = tuple(x509.load_pem_x509_certificate(pem) for pem in anchor_pems(document).values())
        test[ChipKind(document)] = IssuerAnchors(certificates=certificates)
    return ChipAnchors(test=test, allow_test=allow_test)


class InProcess:
    """A Transport straight into a virtual card (no pcscd): the unit level of the pyramid."""

    def __init__(self, card: JpFileCard) -> None:
        self.card = card
        self.atr = card.atr

    def transmit(self, apdu: bytes | bytearray) -> bytes:
        """One APDU in, data‖SW out."""
        return self.card.process(bytes(apdu))
