"""Request and response models of tenancy."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.tenancy.codes import Procedure, is_valid_municipality_code, is_valid_office_code
from service.tenancy.hours import ALWAYS_OPEN, OpeningHours, validate_opening_hours


class MunicipalityCreate(BaseModel):
    code: str = Field(description="全国地方公共団体コード (6 digits with check digit), e.g. 131016")
    name: str = Field(min_length=1, max_length=100)
    policy: dict[str, Any] = Field(default_factory=dict)

    @field_validator("code")
    @classmethod
    def _check_code(cls, value: str) -> str:
        if not is_valid_municipality_code(value):
            raise ValueError("not a valid 全国地方公共団体コード (6 digits, last is the check digit)")
        return value


class MunicipalityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    policy: dict[str, Any]


class PostOfficeCreate(BaseModel):
    office_code: str = Field(description="Post office code, five digits")
    name: str = Field(min_length=1, max_length=100)
    address: str = Field(min_length=1, max_length=200)

    @field_validator("office_code")
    @classmethod
    def _check_code(cls, value: str) -> str:
        if not is_valid_office_code(value):
            raise ValueError("office_code must be five digits")
        return value


class PostOfficeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    office_code: str
    name: str
    address: str


class DesignationCreate(BaseModel):
    municipality_code: str = Field(pattern=r"^[0-9]{6}$")
    post_office_id: str = Field(max_length=40)
    procedures: list[Procedure] = Field(min_length=1)
    valid_from: dt.date
    valid_until: dt.date
    council_resolution_ref: str = Field(min_length=1, max_length=200, description="議決 reference")
    contract_id: str = Field(min_length=1, max_length=100)
    opening_hours: OpeningHours = Field(default_factory=lambda: dict(ALWAYS_OPEN))

    @field_validator("procedures")
    @classmethod
    def _unique(cls, value: list[Procedure]) -> list[Procedure]:
        if len(set(value)) != len(value):
            raise ValueError("procedures must not repeat")
        return value

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: OpeningHours) -> OpeningHours:
        return validate_opening_hours(value)

    @model_validator(mode="after")
    def _period(self) -> DesignationCreate:
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class DesignationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    municipality_code: str
    post_office_id: str
    procedures: list[Procedure]
    valid_from: dt.date
    valid_until: dt.date
    council_resolution_ref: str
    contract_id: str
    opening_hours: OpeningHours
