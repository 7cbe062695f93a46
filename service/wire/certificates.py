"""Certificates at the post office (郵便局型利用端末, セパレート型): the contract of the lobby terminal, the clerk's
print station and the hub (docs/certificates.md).

Names and bodies only, no I/O, no SQLAlchemy or FastAPI: the agent's kiosk and print station import this module, the
hub's service/certificates/ implements it. The flow: ① the lobby terminal sends the request, the card signs a hub
nonce bound to it, the hub's rules decide and a receipt slip is printed (no name, address or number on it) ② the
clerk scans the receipt ③ the hub releases that receipt's document only, the print station checks its binding and
prints it ④ the fee is collected and the certificate handed over; the hub then destroys its copy.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field


class CertificateKind(StrEnum):
    """Certificates a municipality may offer at the post office."""

    juminhyo = "juminhyo"  # 住民票の写し
    juminhyo_kisai = "juminhyo_kisai"  # 住民票記載事項証明書
    inkan = "inkan"  # 印鑑登録証明書
    koseki_zenbu = "koseki_zenbu"  # 戸籍全部事項証明書
    koseki_kojin = "koseki_kojin"  # 戸籍個人事項証明書
    koseki_fuhyo = "koseki_fuhyo"  # 戸籍の附票の写し
    shotoku_kazei = "shotoku_kazei"  # 所得・課税証明書


KIND_LABELS: Final[dict[CertificateKind, tuple[str, str]]] = {
    CertificateKind.juminhyo: ("住民票の写し", "Certificate of residence (copy)"),
    CertificateKind.juminhyo_kisai: ("住民票記載事項証明書", "Certificate of resident-record entries"),
    CertificateKind.inkan: ("印鑑登録証明書", "Seal registration certificate"),
    CertificateKind.koseki_zenbu: ("戸籍全部事項証明書", "Family register (all entries)"),
    CertificateKind.koseki_kojin: ("戸籍個人事項証明書", "Family register (individual entries)"),
    CertificateKind.koseki_fuhyo: ("戸籍の附票の写し", "Family register supplement (copy)"),
    CertificateKind.shotoku_kazei: ("所得・課税証明書", "Income and tax certificate"),
}

# Kinds read from the 戸籍 (family register): only for residents whose registered domicile (本籍) is here.
KOSEKI_KINDS: Final = frozenset(
    {CertificateKind.koseki_zenbu, CertificateKind.koseki_kojin, CertificateKind.koseki_fuhyo}
)


class Scope(StrEnum):
    """Whose entries a 住民票の写し shows."""

    self_only = "self"  # 本人のみ
    household = "household"  # 世帯全員


SCOPE_LABELS: Final[dict[Scope, tuple[str, str]]] = {
    Scope.self_only: ("本人のみ", "Yourself only"),
    Scope.household: ("世帯全員", "Whole household"),
}


class CertificateOption(StrEnum):
    """What a 住民票 may show besides the default entries. 個人番号 is off and not selectable unless configured."""

    honseki = "honseki"  # 本籍・筆頭者
    setainushi = "setainushi"  # 世帯主・続柄
    kojin_bango = "kojin_bango"  # 個人番号 (My Number): never selectable by default


OPTION_LABELS: Final[dict[CertificateOption, tuple[str, str]]] = {
    CertificateOption.honseki: ("本籍・筆頭者", "Registered domicile and head of register"),
    CertificateOption.setainushi: ("世帯主・続柄", "Head of household and relationship"),
    CertificateOption.kojin_bango: ("個人番号", "My Number"),
}


class RefusalCode(StrEnum):
    """Why the hub refused a kiosk request. The terminal shows only REFUSAL_WORDING, never the reason itself."""

    moved_out = "moved_out"  # 転出済み
    moving_out = "moving_out"  # 転出予定 (the household too)
    support_measure = "support_measure"  # 支援措置: the terminal never says why
    deceased = "deceased"
    card_issued_today = "card_issued_today"  # usable from the day after card / e-certificate issue
    under_age = "under_age"  # under 15, where the municipality says so
    no_registered_honseki = "no_registered_honseki"  # 戸籍 only for registered 本籍 holders
    not_resident = "not_resident"  # no record of this card's holder here
    kind_not_offered = "kind_not_offered"
    option_not_offered = "option_not_offered"
    outside_service_hours = "outside_service_hours"
    maintenance = "maintenance"
    card_proof_failed = "card_proof_failed"  # the card's signature or certificate did not verify


# What the terminal says for each refusal: neutral, no reason that reveals a record (支援措置 above all).
_ASK_COUNTER = ("市区町村の窓口でお尋ねください。", "Please ask at the municipal counter.")
REFUSAL_WORDING: Final[dict[RefusalCode, tuple[str, str]]] = {
    RefusalCode.moved_out: _ASK_COUNTER,
    RefusalCode.moving_out: _ASK_COUNTER,
    RefusalCode.support_measure: _ASK_COUNTER,
    RefusalCode.deceased: _ASK_COUNTER,
    RefusalCode.card_issued_today: (
        "カードの交付日の翌日からご利用いただけます。",
        "The service can be used from the day after the card was issued.",
    ),
    RefusalCode.under_age: _ASK_COUNTER,
    RefusalCode.no_registered_honseki: _ASK_COUNTER,
    RefusalCode.not_resident: _ASK_COUNTER,
    RefusalCode.kind_not_offered: (
        "この証明書はこの端末では交付できません。",
        "This certificate is not issued at this terminal.",
    ),
    RefusalCode.option_not_offered: (
        "選択された記載事項はこの端末では指定できません。",
        "The chosen entries cannot be requested at this terminal.",
    ),
    RefusalCode.outside_service_hours: (
        "ただいまサービス時間外です。",
        "The service is closed at this time.",
    ),
    RefusalCode.maintenance: ("ただいま保守作業中です。", "The service is under maintenance."),
    RefusalCode.card_proof_failed: (
        "カードを確認できませんでした。窓口でお尋ねください。",
        "The card could not be verified. Please ask at the counter.",
    ),
}
# Codes the hub may tell the clerk (a refusal decided on the record is the municipality's to explain, not the
# post office's): every record-based code is reported to the clerk as "refused" only.
RECORD_REFUSALS: Final = frozenset(
    {
        RefusalCode.moved_out,
        RefusalCode.moving_out,
        RefusalCode.support_measure,
        RefusalCode.deceased,
        RefusalCode.under_age,
        RefusalCode.no_registered_honseki,
        RefusalCode.not_resident,
    }
)


class JobState(StrEnum):
    """A print job from the receipt to the hand-over (docs/certificates.md §States)."""

    receipt_issued = "receipt_issued"
    accepted_by_clerk = "accepted_by_clerk"
    print_queued = "print_queued"
    printed = "printed"
    fee_collected = "fee_collected"
    handed_over = "handed_over"
    voided = "voided"
    expired = "expired"  # uncollected: the document is destroyed
    print_failed = "print_failed"  # reprint without a second fee
    refused = "refused"  # decided at the card step; no receipt is printed


JOB_STATE_LABELS: Final[dict[JobState, tuple[str, str]]] = {
    JobState.receipt_issued: ("受付済み", "receipt issued"),
    JobState.accepted_by_clerk: ("局員受付済み", "accepted by the clerk"),
    JobState.print_queued: ("印刷待ち", "print queued"),
    JobState.printed: ("印刷済み", "printed"),
    JobState.fee_collected: ("手数料収納済み", "fee collected"),
    JobState.handed_over: ("交付済み", "handed over"),
    JobState.voided: ("無効", "voided"),
    JobState.expired: ("期限切れ（破棄）", "expired (destroyed)"),
    JobState.print_failed: ("印刷失敗", "print failed"),
    JobState.refused: ("交付不可", "refused"),
}

JOB_TERMINAL_STATES: Final = frozenset(
    {JobState.handed_over, JobState.voided, JobState.expired, JobState.refused}
)


class PrintFailure(StrEnum):
    """Why the print station reports a failed print."""

    printer_offline = "printer_offline"
    paper_out = "paper_out"
    paper_jam = "paper_jam"
    binding_mismatch = "binding_mismatch"  # the station refused the document: it is not this receipt's
    other = "other"


class Verdict(StrEnum):
    """What the public verification page says of a verification code or an uploaded PDF."""

    genuine = "genuine"
    superseded = "superseded"  # a reprint replaced this copy
    voided = "voided"
    tampered = "tampered"  # an uploaded PDF whose content or signature does not match
    unknown = "unknown"


VERDICT_LABELS: Final[dict[Verdict, tuple[str, str]]] = {
    Verdict.genuine: ("この証明書は真正です。", "This certificate is genuine."),
    Verdict.superseded: (
        "この証明書は再印刷により無効になりました。",
        "This copy was superseded by a reprint.",
    ),
    Verdict.voided: ("この証明書は無効です。", "This certificate was voided."),
    Verdict.tampered: (
        "この文書は発行後に改変されています。",
        "This document was altered after issue.",
    ),
    Verdict.unknown: ("この確認コードは登録されていません。", "This verification code is not known."),
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- the catalogue a terminal shows --------------------------------------------------------------------


class KindOffer(_Answer):
    """One certificate the municipality offers at the post office, with its fees in yen."""

    kind: CertificateKind
    ja: str
    en: str
    kiosk_fee_yen: int
    counter_fee_yen: int
    scopes: list[Scope] = Field(default_factory=list)  # empty: no scope to choose
    options: list[CertificateOption] = Field(default_factory=list)  # selectable options only
    max_count: int = 5


class Catalogue(_Answer):
    """GET /api/v1/certificates/catalogue?municipality_code=…: what this office's terminal may offer now."""

    municipality_code: str
    municipality_name: str = ""
    config_version: int
    open_now: bool
    closed_reason: RefusalCode | None = None
    hours: str = ""  # e.g. "06:30-23:00", local time
    kinds: list[KindOffer] = Field(default_factory=list)


# --- the lobby terminal --------------------------------------------------------------------------------


class KioskRequestBody(_Body):
    """POST /api/v1/certificates/requests: what the resident chose; the hub answers with a card challenge."""

    municipality_code: str
    kind: CertificateKind
    count: int = Field(default=1, ge=1, le=10)
    scope: Scope | None = None
    options: list[CertificateOption] = Field(default_factory=list)


class KioskChallenge(_Answer):
    """The nonce the card signs: signed bytes are SHA-256(origin) ‖ SHA-256(nonce) ‖ request_id, as at the counter."""

    request_id: str
    nonce: str
    origin: str
    expires_at: dt.datetime


class KioskProofBody(_Body):
    """POST /api/v1/certificates/requests/{request_id}/proof: the JPKI 利用者証明用 signature (base64), ATR hex."""

    certificate: str
    signature: str
    atr: str


class Receipt(_Answer):
    """The receipt slip (受付レシート): no name, no address, no number. `receipt_number` is what the QR carries."""

    receipt_number: str
    post_office_id: str
    post_office_name: str = ""
    municipality_code: str
    kind: CertificateKind
    count: int
    fee_yen: int
    issued_at: dt.datetime
    expires_at: dt.datetime


class KioskAnswer(_Answer):
    """The hub's decision on a proven request: a receipt, or a refusal with the terminal's neutral wording."""

    request_id: str
    state: JobState
    receipt: Receipt | None = None
    refusal: RefusalCode | None = None
    message_ja: str = ""
    message_en: str = ""


# --- the clerk's print station -------------------------------------------------------------------------


class ScanBody(_Body):
    """POST /api/v1/certificates/scans: the receipt number read from the slip's QR or typed."""

    receipt_number: str = Field(min_length=4, max_length=32)


class Binding(_Answer):
    """What ties a document to its receipt end to end. The station prints only a document whose SHA-256 is
    `content_sha256`, whose embedded binding names this receipt and nonce digest, and reports them back."""

    receipt_number: str
    nonce_sha256: str  # SHA-256 of the card step's nonce (hex); the nonce itself never leaves the hub
    content_sha256: str  # SHA-256 of the PDF bytes the station receives
    issue_number: str


class PrintJob(_Answer):
    """A print job as the clerk's station sees it: no personal data."""

    id: str
    receipt_number: str
    state: JobState
    kind: CertificateKind
    count: int
    fee_yen: int
    fee_paid_yen: int = 0
    reprints: int = 0
    expires_at: dt.datetime
    binding: Binding | None = None  # once the document is released


class CounterChoice(_Body):
    """The certificate a resident without a card asks for at the counter, as the clerk records it on the case
    (`certificate_request`, docs/certificates.md §Counter requests); checked against the configuration."""

    kind: CertificateKind
    count: int = Field(default=1, ge=1, le=10)
    scope: Scope | None = None
    options: list[CertificateOption] = Field(default_factory=list)


class CaseCertificate(_Answer):
    """The certificate a counter case asks for, as the clerk and the officer see it: codes and labels, no
    personal data. `state` is `awaiting_decision` until the officer decides, then the print job's state."""

    job_id: str
    kind: CertificateKind
    kind_ja: str
    kind_en: str
    scope: Scope | None
    options: list[CertificateOption]
    count: int
    fee_yen: int = Field(description="The counter fee for all copies")
    state: str
    receipt_number: str | None = Field(
        description="Issued on approval; the station scans it as a kiosk receipt"
    )


class PrintedBody(_Body):
    """POST /api/v1/certificates/jobs/{id}/printed: the binding the station checked, echoed back."""

    receipt_number: str
    nonce_sha256: str
    content_sha256: str


class PrintFailedBody(_Body):
    """POST /api/v1/certificates/jobs/{id}/print-failed."""

    reason: PrintFailure
    detail: str = Field(default="", max_length=200)


class ReprintBody(_Body):
    """POST /api/v1/certificates/jobs/{id}/reprint: the spoiled copy is voided, a new one issued, no second fee."""

    reason: PrintFailure


class FeeBody(_Body):
    """POST /api/v1/certificates/jobs/{id}/fee: the cash the clerk took (must equal the fee)."""

    amount_yen: int = Field(ge=0)


class VoidBody(_Body):
    """POST /api/v1/certificates/jobs/{id}/void: the clerk or the municipality voids the job."""

    reason: str = Field(min_length=1, max_length=64, pattern=r"^[a-z_]+$")


# A document released to the station carries its binding in these response headers too (GET …/document).
HEADER_RECEIPT: Final = "X-Certificate-Receipt"
HEADER_NONCE_SHA256: Final = "X-Certificate-Nonce-Sha256"
HEADER_CONTENT_SHA256: Final = "X-Certificate-Content-Sha256"
# The PDF's own metadata key for the binding "<receipt_number>:<nonce_sha256>" (Info dictionary).
PDF_BINDING_KEY: Final = "/MadoguchiBinding"


def pdf_binding(receipt_number: str, nonce_sha256: str) -> str:
    """The binding text written into the PDF's metadata and checked by the print station."""
    return f"{receipt_number}:{nonce_sha256}"
