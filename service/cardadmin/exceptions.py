"""Errors of remote card management: each a clear outcome for the counter, never a 500."""

from __future__ import annotations

from service.errors import Conflict, NotFound, PermissionDenied


class NotACounterDevice(PermissionDenied):
    code = "not_a_post_office_device"
    title = "Only the device of the case's post office relays card management"


class CardAdminNotAllowed(Conflict):
    code = "card_admin_not_allowed"
    title = "Card management needs an approved e-certificate or PIN case (and the right operation for it)"


class CardAdminJobNotFound(NotFound):
    code = "card_admin_job_not_found"
    title = "No card management on this case"


class StaleRun(Conflict):
    code = "card_admin_stale_run"
    title = "These answers belong to a run that is no longer the case's current one"


class AlreadyDone(Conflict):
    code = "card_admin_done"
    title = "This card management is already complete"
