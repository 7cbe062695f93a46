"""Errors of outreach booths (stable codes; docs/booths.md)."""

from __future__ import annotations

from service.errors import Conflict, NotFound, PermissionDenied, Unprocessable


class BoothNotFound(NotFound):
    code = "booth_not_found"
    title = "No such booth"


class BoothSessionNotFound(NotFound):
    code = "booth_session_not_found"
    title = "No such booth session"


class BoothSessionRevoked(PermissionDenied):
    code = "booth_session_revoked"
    title = "This booth session was revoked: wipe the local store"


class NotScheduled(PermissionDenied):
    code = "booth_officer_not_scheduled"
    title = "Only an officer scheduled at this booth may open it or decide its cases"


class WrongBoothDevice(PermissionDenied):
    code = "booth_wrong_device"
    title = "This booth session is bound to another laptop"


class OutsideBoothDates(Unprocessable):
    code = "booth_outside_dates"
    title = "The case was recorded outside the booth's dates"


class BoothOfficeNotDesignated(Conflict):
    code = "booth_office_not_designated"
    title = "The municipality has no designation of this office covering the booth's dates"


class ForwardingNotAccepted(Unprocessable):
    code = "booth_forwarding_not_accepted"
    title = "The applicant's municipality does not accept applications forwarded from this booth"


class SyncMismatch(Unprocessable):
    code = "booth_sync_mismatch"
    title = "This booth case id was synced before with different content"


class SlotFull(Conflict):
    code = "booth_slot_full"
    title = "The slot's bookings would exceed its capacity or go below zero"


class SyncInProgress(Conflict):
    code = "booth_sync_in_progress"
    title = "This booth case is being synced by another request right now: send it again to read the answer"
