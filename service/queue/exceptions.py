"""Errors of the queue domain."""

from __future__ import annotations

from service.errors import Conflict, NotFound, PermissionDenied, Unprocessable


class OfferNotFound(NotFound):
    code = "offer_not_found"
    title = "No such offer for you"


class OfferExpired(Conflict):
    code = "offer_expired"
    title = "The offer expired and went to another officer"


class OfferClosed(Conflict):
    code = "offer_closed"
    title = "The offer was already answered or withdrawn"


class OfficerBusy(Conflict):
    code = "officer_busy"
    title = "You already have a live case; finish it first"


class NotAnOfficer(PermissionDenied):
    code = "not_an_officer"
    title = "Only a municipal officer takes cases from the queue"


class ReassignRefused(Unprocessable):
    code = "reassign_refused"
    title = "The case cannot be reassigned to that officer"
