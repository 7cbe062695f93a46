"""Errors of the integrations domain."""

from __future__ import annotations

from service.errors import Conflict, HubError, Unprocessable


class NotFinalized(Conflict):
    code = "case_not_finalized"
    title = "The case has not been finalized for the back office"


class MailAlreadyDispatched(Conflict):
    code = "mail_already_dispatched"
    title = "This case's card was already mailed"


class TrackingNumberInUse(Conflict):
    code = "tracking_number_in_use"
    title = "This tracking number belongs to another mailing"


class MailNotDispatched(Conflict):
    code = "mail_not_dispatched"
    title = "No mailing is recorded for this case"


class MailTrackingConflict(Conflict):
    code = "mail_tracking_conflict"
    title = "This tracking update does not fit the mailing's state"


class HoldNotExpired(Conflict):
    code = "hold_not_expired"
    title = "The 10-day hold at the post office has not expired yet"


class ResidentCheckClosed(Conflict):
    code = "resident_check_closed"
    title = "Resident-record checks are made during the live session and review only"


class ResidentCheckUnavailable(HubError):
    status_code = 503
    code = "resident_check_unavailable"
    title = "The resident-record system is not available"


class InvalidPeriod(Unprocessable):
    code = "invalid_period"
    title = "The export period is invalid"
