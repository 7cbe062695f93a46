"""Errors of the tenancy domain."""

from __future__ import annotations

from service.errors import Conflict, NotFound


class MunicipalityNotFound(NotFound):
    code = "municipality_not_found"
    title = "Municipality not found"


class PostOfficeNotFound(NotFound):
    code = "post_office_not_found"
    title = "Post office not found"


class DesignationNotFound(NotFound):
    code = "designation_not_found"
    title = "Designation not found"


class AlreadyExists(Conflict):
    code = "already_exists"
    title = "Already exists"


class DesignationNotInForce(Conflict):
    code = "designation_not_in_force"
    title = "No designation covers this office, procedure and time"
