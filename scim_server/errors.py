"""Errors mapped to responses in one place.

SCIM routes answer in the RFC 7644 §3.12 error schema (``status`` as a string, ``scimType``
where the RFC defines one); the admin API answers ``{"error": {"code", "message"}}``.
Anything unexpected is a 500 carrying the request id, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
from pydantic import ValidationError
from scim2_models import Error, SCIMException
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from scim_server.allow import allowed_methods
from scim_server.audit import refusals
from scim_server.auth import AuthenticationFailed, ScopeDenied
from scim_server.cursor import InvalidCursor
from scim_server.jobs.queue import JobNotFound
from scim_server.services.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from scim_server.store.apps import AppNotFound
from scim_server.store.reports import ReportNotFound
from scim_server.store.rules import RuleNotFound

__all__ = ["ERROR_HANDLERS", "AdminError", "Conflict", "Forbidden", "Invalid", "NotFound", "ServiceError"]

log = logging.getLogger("scim_bridge.errors")

SCIM_MEDIA_TYPE = "application/scim+json"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


AdminError = ServiceError  # the name the admin routes grew up with


def _is_scim(request: Request) -> bool:
    return request.url.path.startswith("/scim/")


def scim_error_body(status: int, detail: str, scim_type: str | None = None) -> dict[str, object]:
    """An RFC 7644 §3.12 error document."""
    body: dict[str, object] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


def scim_error(status: int, detail: str, scim_type: str | None = None, headers: Mapping[str, str] | None = None) -> Response:
    body = scim_error_body(status, detail, scim_type)
    return Response(orjson.dumps(body), status_code=status, media_type=SCIM_MEDIA_TYPE, headers=headers)


def scim_failure(exc: Exception, request_id: str) -> tuple[int, dict[str, object]]:
    """The status and error document the SCIM face answers ``exc`` with: what the handlers
    below send, and what a Bulk operation (RFC 7644 §3.7.3) reports as its ``response``.
    Anything but a SCIM or validation error is logged and becomes a 500 naming the request id."""
    if isinstance(exc, SCIMException):
        error = exc.to_error()
        status = int(error.status or exc.status)
        return status, scim_error_body(status, error.detail or str(exc), error.scim_type)
    if isinstance(exc, ValidationError):
        errors = Error.from_validation_errors(exc.errors())
        first = errors[0] if errors else Error(status=400, scim_type="invalidValue", detail=str(exc))
        scim_type = first.scim_type or "invalidValue"
        return 400, scim_error_body(400, first.detail or "Invalid value.", scim_type if scim_type in _SCIM_TYPES else None)
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    return 500, scim_error_body(500, f"Internal error; request id {request_id}.")


def _scim_response(status: int, body: dict[str, object]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=SCIM_MEDIA_TYPE)


def admin_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None, *,
                field: str | None = None) -> Response:  # fmt: skip
    error: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return Response(
        orjson.dumps({"error": error}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _error(request: Request, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    if _is_scim(request):
        return scim_error(status, message, code if code in _SCIM_TYPES else None, headers)
    return admin_error(status, code, message, headers)


_SCIM_TYPES = {
    "invalidFilter", "tooMany", "uniqueness", "mutability", "invalidSyntax", "invalidPath",
    "noTarget", "invalidValue", "invalidVers", "sensitive", "invalidCursor", "expiredCursor", "invalidCount",
}  # fmt: skip


async def on_scim_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SCIMException)
    resource_id = request.path_params.get("id")
    if getattr(exc, "status", None) == 404 and isinstance(resource_id, str):
        noun = "Group" if "/groups/" in request.url.path.lower() else "User"
        await refusals.cross_workspace(request, noun, resource_id)  # another workspace's resource: recorded
    return _scim_response(*scim_failure(exc, "-"))


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    if not _is_scim(request):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}" for error in exc.errors()[:10]
        )
        return admin_error(400, "invalid", problems or "Invalid request.")
    return _scim_response(*scim_failure(exc, "-"))


async def on_admin_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    if _is_scim(request):
        return scim_error(exc.status, exc.message, exc.code if exc.code in _SCIM_TYPES else None)
    return admin_error(exc.status, exc.code, exc.message, field=exc.field)


async def on_invalid_cursor(request: Request, exc: Exception) -> Response:
    """A cursor this server did not issue for that list: RFC 9865's invalidCursor on the SCIM face."""
    assert isinstance(exc, InvalidCursor)
    if _is_scim(request):
        return scim_error(400, exc.detail, "invalidCursor")
    return admin_error(400, "invalid_cursor", exc.detail)


# What a store lookup that found nothing was looking for: a 404 whichever handler asked, even
# when the row vanished between the handler's read and its write (a racing DELETE).
_NOT_FOUND_NOUNS: dict[type[LookupError], str] = {AppNotFound: "App", JobNotFound: "Job", ReportNotFound: "Report",
                                                   RuleNotFound: "Rule"}  # fmt: skip


async def on_not_found(request: Request, exc: Exception) -> Response:
    noun = next(n for kind, n in _NOT_FOUND_NOUNS.items() if isinstance(exc, kind))
    if exc.args and isinstance(exc.args[0], str):
        await refusals.cross_workspace(request, noun, exc.args[0])  # another workspace's object: recorded
    return _error(request, 404, "not_found", f"{noun} {exc.args[0] if exc.args else ''} not found.")


async def on_auth_failed(request: Request, exc: Exception) -> Response:
    await refusals.record(request, "auth.failed", str(exc))  # in the token's workspace, if it has one
    return _error(request, 401, "unauthorized", str(exc), {"WWW-Authenticate": 'Bearer realm="scim-bridge"'})


async def on_scope_denied(request: Request, exc: Exception) -> Response:
    await refusals.record(request, "auth.denied", str(exc))
    return _error(request, 403, "forbidden", str(exc))


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status, detail, headers = exc.status_code, str(exc.detail), exc.headers
    if status in (404, 405):
        # Starlette names only the first matching route's methods, and a mount that matched the
        # prefix answers 404 for a path a route beside it serves with other methods.
        allowed = allowed_methods(request.app.routes, request.scope)
        if allowed and request.method not in allowed:  # else a handler's own 404 stands
            status, detail = 405, "Method Not Allowed"
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return _error(request, status, "http_" + str(status), detail, headers)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    request_id = getattr(request.state, "request_id", "-")
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    return _error(request, 500, "internal", f"Internal error; request id {request_id}.")


ERROR_HANDLERS = {
    SCIMException: on_scim_exception,
    ValidationError: on_validation_error,
    ServiceError: on_admin_error,
    InvalidCursor: on_invalid_cursor,
    **dict.fromkeys(_NOT_FOUND_NOUNS, on_not_found),
    AuthenticationFailed: on_auth_failed,
    ScopeDenied: on_scope_denied,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
