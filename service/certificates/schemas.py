"""Hub-only schemas of certificate issuance (the terminal's and the station's are in service/wire/certificates.py)."""

from __future__ import annotations

from pydantic import BaseModel

from service.certificates.config import CertificateSettings


class ConfigRead(BaseModel):
    """GET/PUT /api/v1/municipalities/{code}/certificate-config: the configuration in force (version 0: default)."""

    municipality_code: str
    version: int
    config: CertificateSettings
