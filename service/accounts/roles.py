"""Roles and the authenticated principal of a request (plain objects, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """Human roles (docs/domain.md §B1)."""

    clerk = "clerk"  # 郵便局の窓口担当 — one post office; can never decide
    officer = "officer"  # 市区町村の職員 — the only one who decides identity
    supervisor = "supervisor"  # 保護責任者 — reviews, reassigns, overrides with a reason
    auditor = "auditor"  # 監査責任者 — read-only audit of one municipality
    admin = "admin"  # configuration only; never reads evidence
    manager = "manager"  # 所属長など — reads its municipality's reports only: no case, no evidence (docs/reports.md)
    ministry = (
        "ministry"  # 総務省 — reads the national aggregate only, across municipalities (docs/reports.md)
    )


class PrincipalKind(StrEnum):
    account = "account"
    device = "device"
    integration = "integration"
    system = "system"


class Scope(StrEnum):
    """Scopes an integration client's API key may carry."""

    cases_read = "cases:read"
    cases_write = "cases:write"
    audit_read = "audit:read"
    webhooks_manage = "webhooks:manage"
    reports_read = (
        "reports:read"  # the municipality's monthly figures, without any case (docs/reports.md §Access)
    )


# Roles of a municipality's staff who read cases, evidence or the audit trail.
MUNICIPAL_ROLES = frozenset({Role.officer, Role.supervisor, Role.auditor})
# Every role bound to exactly one municipality: the staff above, and managers who read its reports only.
MUNICIPALITY_ROLES = MUNICIPAL_ROLES | {Role.manager}


@dataclass(frozen=True)
class Principal:
    """Who is calling: an account with a role, a clerk-agent device, or an integration client."""

    kind: PrincipalKind
    id: str
    role: Role | None = None
    municipality_code: str | None = None
    post_office_id: str | None = None
    scopes: frozenset[Scope] = field(default_factory=frozenset)

    @property
    def actor_label(self) -> str:
        """The actor's role as written in the audit trail."""
        if self.kind is PrincipalKind.account and self.role is not None:
            return self.role.value
        return self.kind.value

    @property
    def device_id(self) -> str | None:
        """The device id when the caller is a clerk-agent device."""
        return self.id if self.kind is PrincipalKind.device else None


SYSTEM = Principal(kind=PrincipalKind.system, id="system")
