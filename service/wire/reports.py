"""The reports contract: the JSON the hub's reports API answers (docs/reports.md).

Pydantic only, no SQLAlchemy or FastAPI, like the rest of service/wire: the console's reports page and any
integration read these shapes. Every figure is a count of case-state entries (or a timing between two of them)
whose time falls in the period, in the hub's time zone — never the cases' current state — so a report for a past
month gives the same numbers whenever it is run (docs/reports.md §Reproducibility).

No model here has a field for a name, an address, a case id or any other personal data: ids of post offices and
municipalities, codes and counts only (docs/reports.md §Privacy).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.wire.cases import Procedure

# "2026-10": the month a report covers.
MONTH_PATTERN: Final = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
Month = Annotated[str, Field(pattern=MONTH_PATTERN, examples=["2026-10"])]

# Activity counts from 1 to SUPPRESS_BELOW - 1 are not published below the national total (docs/reports.md §Suppression).
SUPPRESS_BELOW: Final = 3

# (Japanese, English) per figure, as the console, the CSV and the spreadsheet head their columns.
FIGURE_LABELS: Final[dict[str, tuple[str, str]]] = {
    "received": ("受付件数", "Received"),
    "withdrawn": ("取下げ", "Withdrawn"),
    "referred": ("交付時来庁へ切替", "Referred to the counter"),
    "rejected": ("却下", "Rejected"),
    "approved": ("承認", "Approved"),
    "aborted": ("中断（通話）", "Aborted calls"),
    "completed": ("窓口で完了", "Completed at the counter"),
    "submitted_to_jlis": ("J-LIS送信（申請受付数）", "Submitted to J-LIS"),
    "card_produced": ("カード作成", "Cards produced"),
    "card_received": ("市区町村でカード受領", "Cards received by the municipality"),
    "pre_issue_setup_done": ("交付前設定実施済み数", "Pre-issue setup done"),
    "mailed": ("発送枚数", "Mailed"),
    "delivered": ("交付実施済み数（配達）", "Delivered"),
    "returned": ("返戻", "Returned undelivered"),
    "awaiting_pickup": ("窓口受取待ち", "Awaiting pickup"),
    "cancelled_address_change": ("転居等による取消", "Cancelled (address change)"),
}
# The series whose working-day average the ministry publishes (申請受付数, 発送枚数, 交付前設定, 交付).
AVERAGED_FIGURES: Final = ("received", "submitted_to_jlis", "pre_issue_setup_done", "mailed", "delivered")
# Figures the national view publishes per prefecture and municipality (suppressed when small).
NATIONAL_FIGURES: Final = (
    "received",
    "approved",
    "submitted_to_jlis",
    "pre_issue_setup_done",
    "mailed",
    "delivered",
)

_frozen = ConfigDict(extra="forbid", frozen=True)


class Period(BaseModel):
    """The calendar month a report covers, in the hub's time zone."""

    model_config = _frozen

    month: Month
    first_day: dt.date
    last_day: dt.date
    timezone: str = Field(examples=["Asia/Tokyo"])
    days: int
    working_days: int
    """Days that are neither Saturday, Sunday nor a national holiday (国民の祝日・休日, from the `holidays` package)."""
    holidays: list[dt.date]
    """The national holidays that fall on a weekday of the month (they are not working days)."""


class Figures(BaseModel):
    """Counts of case-state entries in one slice (a day, an office, a procedure, or the whole month).

    Each count is how many cases entered that state in the slice; `*_by_reason` split the same count by the
    reason code the officer, device or back office gave (service/wire/cases.py REASONS).
    """

    model_config = _frozen

    received: int = 0
    """受付: cases checked in at a post office counter."""
    withdrawn: int = 0
    withdrawn_by_reason: dict[str, int] = Field(default_factory=dict)
    referred: int = 0
    """交付時来庁へ切替: the officer sent the applicant to the town hall's counter."""
    referred_by_reason: dict[str, int] = Field(default_factory=dict)
    rejected: int = 0
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    approved: int = 0
    aborted: int = 0
    """Calls aborted before a decision (a case may be requeued and count again)."""
    aborted_by_reason: dict[str, int] = Field(default_factory=dict)
    completed: int = 0
    """Closed at the counter with no identity decision (申請サポート, 証明書交付)."""
    submitted_to_jlis: int = 0
    card_produced: int = 0
    card_received: int = 0
    pre_issue_setup_done: int = 0
    """交付前設定."""
    mailed: int = 0
    """本人限定受取郵便で発送."""
    delivered: int = 0
    returned: int = 0
    returned_by_reason: dict[str, int] = Field(default_factory=dict)
    awaiting_pickup: int = 0
    cancelled_address_change: int = 0


class DayFigures(BaseModel):
    model_config = _frozen

    day: dt.date
    working_day: bool
    figures: Figures


class OfficeFigures(BaseModel):
    model_config = _frozen

    post_office_id: str
    office_code: str
    office_name: str
    """The post office's name (an institution, not a person)."""
    figures: Figures


class ProcedureFigures(BaseModel):
    model_config = _frozen

    procedure: Procedure
    figures: Figures


class ChannelFigures(BaseModel):
    """One reception channel's figures: `counter` (the remote officer) or `booth` (出張申請受付, docs/booths.md)."""

    model_config = _frozen

    channel: str
    figures: Figures


class Quantiles(BaseModel):
    """A distribution of durations: how many, and the median, 90th percentile and mean (None when count is 0)."""

    model_config = _frozen

    count: int = 0
    p50: float | None = None
    p90: float | None = None
    mean: float | None = None


class Timings(BaseModel):
    """Waits and handling times from the state entries; call setup from the peers' connection metrics."""

    model_config = _frozen

    queue_wait_seconds: Quantiles = Quantiles()
    """Entering 職員待ち (queued_for_officer) → an officer accepting (session_live), per wait."""
    handling_seconds: Quantiles = Quantiles()
    """An officer accepting (session_live) → the decision (approved, rejected or referred)."""
    call_setup_ms: Quantiles = Quantiles()
    """Offer → first remote video frame, as the officer's side measured it (connection_metric.first_frame_ms)."""
    calls: int = 0
    """Calls started: officers accepting a case (session_live entries)."""
    drops: int = 0
    """Calls lost to the link: aborts with reason network, picture_quality or audio_quality."""
    drops_by_reason: dict[str, int] = Field(default_factory=dict)


# (Japanese, English) per certificate figure, as the console, the CSV and the spreadsheet head their columns.
CERTIFICATE_FIGURE_LABELS: Final[dict[str, tuple[str, str]]] = {
    "issued": ("交付通数（初回印刷）", "Copies issued (first print)"),
    "handed_over": ("引渡し通数", "Copies handed over"),
    "reprints": ("再印刷", "Reprints"),
    "voided": ("無効（汚損・取消）", "Copies voided"),
    "fees": ("手数料収納件数", "Fees taken"),
    "collected_yen": ("手数料（円）", "Fees collected (yen)"),
    "refunded_yen": ("返金（円）", "Refunded (yen)"),
}


class CertificateFigures(BaseModel):
    """Certificate activity in one slice, each counted by its own recorded time (docs/reports.md §Certificates)."""

    model_config = _frozen

    issued: int = 0
    """Copies printed for the first time (a job's first document, times the copies it asked for)."""
    handed_over: int = 0
    """Copies handed to the resident (jobs handed over, times their copies)."""
    reprints: int = 0
    """Documents printed again after a spoiled print (the spoiled one is void)."""
    voided: int = 0
    """Documents made void: superseded by a reprint, or voided with their job."""
    fees: int = 0
    """Fee lines recorded in the office's ledger."""
    collected_yen: int = 0
    refunded_yen: int = 0


class CertificateKindFigures(BaseModel):
    model_config = _frozen

    kind: str = Field(examples=["juminhyo"])
    """service/wire/certificates.py CertificateKind; the console labels it from CERTIFICATE_KINDS."""
    figures: CertificateFigures


class CertificateDayFigures(BaseModel):
    model_config = _frozen

    day: dt.date
    figures: CertificateFigures


class CertificateOfficeFigures(BaseModel):
    model_config = _frozen

    post_office_id: str
    office_code: str
    office_name: str
    figures: CertificateFigures
    kinds: list[CertificateKindFigures]
    """The kinds with activity at this office, in the contract's order."""


class CertificateSeries(BaseModel):
    """Certificates issued at post offices (住民票の写し等), by kind with fees, from the certificate terminal's records.

    Copies issued and reprints count by the document's issue time, voided copies by the time they were made void,
    hand-overs by the hand-over time and fees by the ledger's day: a past month's figures do not change.
    """

    model_config = _frozen

    available: bool = True
    totals: CertificateFigures = CertificateFigures()
    kinds: list[CertificateKindFigures] = Field(default_factory=list)
    """Every kind, in the contract's order."""
    by_day: list[CertificateDayFigures] = Field(default_factory=list)
    """Every day of the month, in order."""
    by_office: list[CertificateOfficeFigures] = Field(default_factory=list)
    """Post offices with certificate activity in the month, by office code."""


class DesignationInForce(BaseModel):
    """One designation (指定) in force on some day of the period."""

    model_config = _frozen

    post_office_id: str
    office_code: str
    office_name: str
    procedures: list[Procedure]
    valid_from: dt.date
    valid_until: dt.date


class Designations(BaseModel):
    model_config = _frozen

    in_force: int
    """Designations in force on at least one day of the period."""
    offices: int
    """Distinct post offices among them."""
    by_procedure: dict[str, int]
    """Offices designated for each procedure (a procedure no office covers is 0)."""
    items: list[DesignationInForce]


class WorkingDayAverages(BaseModel):
    """The month's count divided by its working days, as the ministry's daily averages (平日平均)."""

    model_config = _frozen

    working_days: int
    averages: dict[str, float | None]
    """Per figure in AVERAGED_FIGURES; None when the month has no working day."""


class MunicipalReport(BaseModel):
    """One municipality's month: totals, per day, per post office and per procedure (supervisor, manager)."""

    model_config = _frozen

    kind: Literal["municipal"] = "municipal"
    municipality_code: str = Field(examples=["131016"])
    """全国地方公共団体コード (6 digits, with the check digit)."""
    municipality_name: str
    period: Period
    generated_at: dt.datetime
    totals: Figures
    by_day: list[DayFigures]
    """Every day of the month, in order, including days with no activity."""
    by_office: list[OfficeFigures]
    """Every post office the municipality designated during the month, or had a case at; by office code."""
    by_procedure: list[ProcedureFigures]
    """Every procedure, in the contract's order."""
    ecert_pin: list[ProcedureFigures]
    """The e-certificate and PIN procedures' rows of by_procedure (電子証明書の発行・更新, 暗証番号の初期化・変更)."""
    certificates: CertificateSeries
    timings: Timings
    designations: Designations
    working_day_averages: WorkingDayAverages
    by_channel: list[ChannelFigures] = Field(default_factory=list)
    """Where cases were received: the counter channel and outreach booths, in that order."""


class ProgrammeCount(BaseModel):
    """How many municipalities and post offices designate one procedure (the follow-up report's figures)."""

    model_config = _frozen

    procedure: Procedure
    municipalities_in_force: int
    offices_in_force: int
    municipalities_planned: int
    """Bodies whose designation of the procedure starts after `as_of` (none in force yet)."""
    offices_planned: int


class SuppressedFigures(BaseModel):
    """Activity counts where 1 and 2 are withheld (None) and named in `suppressed` (docs/reports.md §Suppression)."""

    model_config = _frozen

    values: dict[str, int | None]
    """Per figure in NATIONAL_FIGURES."""
    suppressed: list[str]
    """The figures withheld here, primary or secondary; the console shows them as "<3"."""


class PrefectureRow(BaseModel):
    model_config = _frozen

    prefecture_code: str = Field(examples=["13"])
    prefecture_name: str = Field(examples=["東京都"])
    municipalities_in_force: int
    offices_in_force: int
    municipalities_planned: int
    offices_planned: int
    programmes: list[ProgrammeCount]
    activity: SuppressedFigures


class MunicipalityRow(BaseModel):
    """One municipality's line of the national view (the 「公表用」 sheet's kind of row, plus the 団体コード)."""

    model_config = _frozen

    municipality_code: str
    prefecture_name: str
    municipality_name: str
    offices_in_force: int
    activity: SuppressedFigures


class Suppression(BaseModel):
    model_config = _frozen

    below: int = SUPPRESS_BELOW
    rule_ja: str = (
        "都道府県別・市区町村別の件数のうち1件以上3件未満は「<3」と表示し、値を公表しません。"
        "同じ系列で秘匿が1か所だけの場合は、次に小さい件数も秘匿します（合計からの逆算防止）。"
        "団体数・郵便局数は個人に関わらないため秘匿しません。"
    )
    rule_en: str = (
        "Per-prefecture and per-municipality activity counts of 1 or 2 are shown as '<3' and withheld. "
        "Where a series has a single withheld cell, the next smallest count is withheld too, so the total "
        "cannot reveal it. Counts of bodies and offices concern no person and are never withheld."
    )


class NationalReport(BaseModel):
    """All municipalities, aggregated only (ministry): programmes, designations and activity per prefecture."""

    model_config = _frozen

    kind: Literal["national"] = "national"
    period: Period
    as_of: dt.date
    """The day designations are counted on: the period's last day."""
    generated_at: dt.datetime
    suppression: Suppression
    programmes: list[ProgrammeCount]
    """Nationwide, one row per procedure."""
    municipalities_in_force: int
    offices_in_force: int
    municipalities_planned: int
    offices_planned: int
    activity: SuppressedFigures
    """National totals (suppressed only when the total itself is 1 or 2)."""
    by_prefecture: list[PrefectureRow]
    """Prefectures with at least one designation in force or planned, by JIS prefecture code."""
    by_municipality: list[MunicipalityRow]
    """Municipalities with a designation in force or planned, by 団体コード."""


class ReportsScope(BaseModel):
    """What the caller may read: the console's reports page starts here."""

    model_config = _frozen

    role: str
    municipality_code: str | None
    municipality_name: str | None
    municipal: bool
    """May read its municipality's monthly report (supervisor, manager, a reports:read key)."""
    national: bool
    """May read the national aggregated view (ministry)."""
    months: list[Month]
    """Months with activity or designations, newest first (at least the current month)."""
    exports: tuple[Literal["xlsx", "csv", "pdf"], ...] = ("xlsx", "csv", "pdf")
