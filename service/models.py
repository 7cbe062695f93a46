"""Imports every domain's ORM models so the metadata is complete (Alembic, create checks)."""

from service import migrate as migrate_models  # the schema_compatibility table
from service.accounts import models as accounts_models
from service.audit import models as audit_models
from service.booths import models as booths_models
from service.cardadmin import models as cardadmin_models
from service.cases import models as cases_models
from service.certificates import models as certificates_models
from service.db import Base
from service.evidence import models as evidence_models
from service.idempotency import models as idempotency_models
from service.integrations import models as integrations_models
from service.outbox import models as outbox_models
from service.queue import models as queue_models
from service.review import models as review_models
from service.signaling import models as signaling_models
from service.tenancy import models as tenancy_models

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "audit_models",
    "booths_models",
    "cardadmin_models",
    "cases_models",
    "certificates_models",
    "evidence_models",
    "idempotency_models",
    "integrations_models",
    "metadata",
    "migrate_models",
    "outbox_models",
    "queue_models",
    "review_models",
    "signaling_models",
    "tenancy_models",
]
