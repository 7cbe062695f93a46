"""Dependencies of the webhook routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.kit.egress import EgressPolicy


def webhook_egress(request: Request) -> EgressPolicy:
    """The app's egress policy (allow-list and resolver), shared with the outbox worker's transport."""
    egress: EgressPolicy = request.app.state.integrations.egress
    return egress


WebhookEgress = Annotated[EgressPolicy, Depends(webhook_egress)]
