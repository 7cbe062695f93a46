"""The hub's error tree; one handler renders every `HubError` as application/problem+json."""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


class HubError(Exception):
    """A business outcome that the client can act on; never a 500."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class BadRequest(HubError):
    status_code = 400
    code = "bad_request"
    title = "Bad request"


class Unauthenticated(HubError):
    status_code = 401
    code = "unauthenticated"
    title = "Authentication required"


class PermissionDenied(HubError):
    status_code = 403
    code = "permission_denied"
    title = "Not permitted for this role"


class NotFound(HubError):
    status_code = 404
    code = "not_found"
    title = "Not found"


class Conflict(HubError):
    status_code = 409
    code = "conflict"
    title = "Conflict with the current state"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "Action not allowed in the case's current state"


class Unprocessable(HubError):
    status_code = 422
    code = "unprocessable"
    title = "Request cannot be processed"


class TooManyRequests(HubError):
    status_code = 429
    code = "too_many_requests"
    title = "Too many requests"


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response (RFC 9457) with our stable `code`."""
    body = {
        "type": f"urn:madoguchi:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    retry_after = extra.pop("retry_after", None)
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers or None)


def problem_responses(*errors: type[HubError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for a route's declared errors."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        out[err.status_code] = {
            "description": err.title,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Render hub errors, validation errors and HTTP errors uniformly."""

    async def hub_error(_: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, HubError):  # registered for HubError only
            raise exc
        return problem(exc.status_code, exc.code, exc.title, exc.detail, **exc.extra)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):
            raise exc
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return problem(
            422,
            "validation_error",
            "Invalid request",
            "The request does not match the schema.",
            errors=errors,
        )

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StarletteHTTPException):
            raise exc
        codes = {
            400: "malformed_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
        }
        code = codes.get(exc.status_code, f"http_{exc.status_code}")
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail))

    app.add_exception_handler(HubError, hub_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
