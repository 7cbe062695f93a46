"""ID-document chips: what the counter reads from an applicant's document chip and what the hub makes of it.

The counter reads the chip's signed data objects (docs/id-documents.md §Framework) and sends them as they are;
the hub verifies the issuer's signature and chain and records the result as evidence with each check named. Access
data (a passport's MRZ key, a licence PIN, a residence card number) opens the chip at the counter and never
appears here. Pure pydantic: imports nothing else from service/ (docs/architecture.md §3).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field


class ChipKind(StrEnum):
    """Document kinds with a chip the counter can read (本人確認書類のICチップ)."""

    passport = "passport"  # 旅券 (ICAO Doc 9303)
    driving_licence = "driving_licence"  # 運転免許証 (警察庁 IC運転免許証仕様)
    residence_card = "residence_card"  # 在留カード (出入国在留管理庁)
    special_permanent_resident = "special_permanent_resident"  # 特別永住者証明書


CHIP_KIND_LABELS: Final[dict[ChipKind, tuple[str, str]]] = {
    ChipKind.passport: ("旅券（パスポート）", "Passport"),
    ChipKind.driving_licence: ("運転免許証", "Driving licence"),
    ChipKind.residence_card: ("在留カード", "Residence card"),
    ChipKind.special_permanent_resident: ("特別永住者証明書", "Special permanent resident certificate"),
}

# The chip documents a procedure accepts as the applicant's identity document. 交付申請受付 has no My Number Card
# yet, so any chip document counts; the card procedures read the My Number Card itself, and a chip document
# beside it is a supplementary check. Procedures without an identity decision take none.
ACCEPTED_CHIP_KINDS: Final[dict[str, frozenset[ChipKind]]] = {
    "card_application": frozenset(ChipKind),
    "card_renewal": frozenset(ChipKind),
    "ecert_issue_renew": frozenset(ChipKind),
    "pin_reset": frozenset(ChipKind),
    "certificate_request": frozenset(ChipKind),
}


class ChipVerdict(StrEnum):
    verified = "verified"
    refused = "refused"


class ChipRefusal(StrEnum):
    """Why the hub refused a chip document, one name per failed check's cause (the first failure is named)."""

    malformed = "malformed"  # an object is missing or not the structure its specification gives
    kind_not_accepted = "kind_not_accepted"  # this procedure does not take this document kind
    signature_invalid = "signature_invalid"  # the signer's signature over the signed data does not hold
    unknown_issuer = "unknown_issuer"  # the signer is not certified by a configured issuer (CSCA, root)
    signer_expired = "signer_expired"  # the signer's certificate (or its issuer's) is outside its validity
    signer_revoked = "signer_revoked"  # the issuer's CRL lists the signer
    hash_mismatch = "hash_mismatch"  # a data object's digest differs from the signed one: altered data
    document_expired = "document_expired"  # the document itself is past its validity date
    check_digit = "check_digit"  # a printed check digit (MRZ) is wrong
    access_denied = (
        "access_denied"  # the counter could not open the chip with the access data (wrong key/PIN)
    )


CHIP_REFUSAL_LABELS: Final[dict[ChipRefusal, tuple[str, str]]] = {
    ChipRefusal.malformed: ("ICチップのデータの形式が正しくない", "Chip data is malformed"),
    ChipRefusal.kind_not_accepted: ("この手続では受け付けない書類", "Document kind not accepted here"),
    ChipRefusal.signature_invalid: ("発行者の署名が正しくない", "Issuer signature invalid"),
    ChipRefusal.unknown_issuer: ("発行者を確認できない（信頼する発行元にない）", "Issuer not trusted"),
    ChipRefusal.signer_expired: ("署名者の証明書が有効期間外", "Signer certificate expired"),
    ChipRefusal.signer_revoked: ("署名者の証明書が失効している", "Signer certificate revoked"),
    ChipRefusal.hash_mismatch: ("データが改ざんされている（ハッシュ不一致）", "Data altered (hash mismatch)"),
    ChipRefusal.document_expired: ("書類の有効期限切れ", "Document expired"),
    ChipRefusal.check_digit: ("チェックディジットが正しくない", "Check digit wrong"),
    ChipRefusal.access_denied: ("アクセス鍵が違う（ICチップを開けない）", "Wrong access key"),
}

# Check names and what the officer reads for each: (Japanese, English). A verifier names its checks from here;
# a document type adds its own entries.
CHIP_CHECK_LABELS: Final[dict[str, tuple[str, str]]] = {
    "accepted_kind": ("この手続で受け付ける書類", "Accepted document kind"),
    "structure": ("データ構造", "Data structure"),
    "signature": ("発行者の署名", "Issuer signature"),
    "issuer_chain": ("発行者の証明書チェーン", "Issuer certificate chain"),
    "signer_validity": ("署名者証明書の有効期間", "Signer certificate validity"),
    "signer_revocation": ("署名者証明書の失効確認", "Signer revocation (CRL)"),
    "data_hashes": ("データのハッシュ値", "Data object hashes"),
    "check_digits": ("チェックディジット", "Check digits"),
    "document_validity": ("書類の有効期限", "Document validity"),
}

# Object names per kind, as the counter reads them (passport: ICAO Doc 9303 part 10 elementary files).
PASSPORT_OBJECTS: Final = ("COM", "DG1", "DG2", "SOD")


class ChipReadout(BaseModel):
    """The counter's upload: the chip's raw signed data objects, base64, named per the document's specification."""

    model_config = ConfigDict(extra="forbid")

    kind: ChipKind
    objects: dict[str, str] = Field(
        description="object name (passport: COM, DG1, DG2, SOD) -> raw bytes as read from the chip, base64",
        max_length=32,
    )


class ChipCheck(BaseModel):
    name: str
    ok: bool
    reason_code: str | None = None


class ChipVerificationRead(BaseModel):
    """The hub's verification of one chip document. Holder fields only in the officer's view of the evidence."""

    evidence_id: str
    kind: ChipKind
    checks: list[ChipCheck]
    verdict: ChipVerdict
    refusal_reason: ChipRefusal | None = None
    name: str | None = None
    birth_date: str | None = Field(default=None, description="YYYY-MM-DD")
    address: str | None = None
    valid_until: str | None = Field(default=None, description="YYYY-MM-DD")
    document_number_masked: str | None = None
    photo_available: bool = False
