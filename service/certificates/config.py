"""A municipality's certificate configuration: kinds, options, fees, service hours and its refusal rules.

Versioned: every change is a new row (service/certificates/models.py CertificateConfig) and each job records the
version it was decided under. A municipality without a row gets DEFAULT (version 0). 個人番号 is not selectable unless
`my_number_selectable` is set, and even then only where the kind allows it (docs/certificates.md §Configuration).
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.wire.certificates import CertificateKind, CertificateOption, RefusalCode, Scope

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_MMDD = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


class KindConfig(BaseModel):
    """One certificate kind as this municipality offers it at the post office."""

    model_config = ConfigDict(extra="forbid")

    kind: CertificateKind
    enabled: bool = True
    kiosk_fee_yen: int = Field(ge=0, le=10_000)
    counter_fee_yen: int = Field(ge=0, le=10_000)
    scopes: list[Scope] = Field(default_factory=list)
    options: list[CertificateOption] = Field(default_factory=list)
    max_count: int = Field(default=5, ge=1, le=10)


class MaintenanceWindow(BaseModel):
    """A planned outage of the municipality's certificate system (保守日)."""

    model_config = ConfigDict(extra="forbid")

    starts_at: dt.datetime
    ends_at: dt.datetime

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindow:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("maintenance times need a time zone")
        if self.ends_at <= self.starts_at:
            raise ValueError("a maintenance window ends after it starts")
        return self


class CertificateSettings(BaseModel):
    """The whole configuration body, as stored and as an admin sends it."""

    model_config = ConfigDict(extra="forbid")

    kinds: list[KindConfig]
    my_number_selectable: bool = False
    # Some towns serve no under-15s at the terminal (docs/certificates.md §Refusals); None serves every age.
    minimum_age: int | None = Field(default=None, ge=0, le=20)
    opens: str = "06:30"
    closes: str = "23:00"
    # Month-day pairs the service is closed every year (年末年始), local time.
    closed_days: list[str] = Field(
        default_factory=lambda: ["12-29", "12-30", "12-31", "01-01", "01-02", "01-03"]
    )
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    # An uncollected receipt expires (and its document is destroyed) this long after it was issued.
    uncollected_minutes: int = Field(default=60, ge=5, le=24 * 60)

    @field_validator("opens", "closes")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value) and value != "24:00":
            raise ValueError("times are HH:MM (24:00 for midnight at the end of the day)")
        return value

    @field_validator("closed_days")
    @classmethod
    def _mmdd(cls, value: list[str]) -> list[str]:
        for day in value:
            if not _MMDD.match(day):
                raise ValueError("closed days are MM-DD")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CertificateSettings:
        if self.opens >= self.closes:
            raise ValueError("the service closes after it opens")
        kinds = [k.kind for k in self.kinds]
        if len(kinds) != len(set(kinds)):
            raise ValueError("each kind once")
        return self

    def kind(self, kind: CertificateKind) -> KindConfig | None:
        """The kind's settings when it is offered."""
        return next((k for k in self.kinds if k.kind is kind and k.enabled), None)

    def selectable_options(self, kind: KindConfig) -> list[CertificateOption]:
        """Options the terminal may offer for `kind`: 個人番号 only when the municipality opted in."""
        return [
            o for o in kind.options if o is not CertificateOption.kojin_bango or self.my_number_selectable
        ]

    def closed_reason(self, at: dt.datetime, tz: ZoneInfo) -> RefusalCode | None:
        """Why the service is closed at `at`, or None when open."""
        if any(w.starts_at <= at < w.ends_at for w in self.maintenance):
            return RefusalCode.maintenance
        local = at.astimezone(tz)
        if f"{local:%m-%d}" in self.closed_days or not (self.opens <= f"{local:%H:%M}" < self.closes):
            return RefusalCode.outside_service_hours
        return None


_JUMINHYO_OPTIONS = [CertificateOption.honseki, CertificateOption.setainushi, CertificateOption.kojin_bango]

# Fees as in the sources (丹波, 下呂): the kiosk ¥100 below the counter (docs/certificates.md §Fees).
DEFAULT = CertificateSettings(
    kinds=[
        KindConfig(
            kind=CertificateKind.juminhyo,
            kiosk_fee_yen=200,
            counter_fee_yen=300,
            scopes=[Scope.self_only, Scope.household],
            options=_JUMINHYO_OPTIONS,
        ),
        KindConfig(
            kind=CertificateKind.juminhyo_kisai,
            kiosk_fee_yen=200,
            counter_fee_yen=300,
            options=[CertificateOption.honseki],
        ),
        KindConfig(kind=CertificateKind.inkan, kiosk_fee_yen=200, counter_fee_yen=300),
        KindConfig(kind=CertificateKind.koseki_zenbu, kiosk_fee_yen=350, counter_fee_yen=450),
        KindConfig(kind=CertificateKind.koseki_kojin, kiosk_fee_yen=350, counter_fee_yen=450),
        KindConfig(kind=CertificateKind.koseki_fuhyo, kiosk_fee_yen=200, counter_fee_yen=300),
        KindConfig(kind=CertificateKind.shotoku_kazei, kiosk_fee_yen=200, counter_fee_yen=300),
    ]
)
