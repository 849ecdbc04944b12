"""The typed errors of the service layer: what went wrong, as a status, a stable code, a message
and (when one field is to blame) the field. No HTTP here: ``scim_server/errors.py`` maps them to
responses in one place, and the console renders the same errors on the field they name."""

from __future__ import annotations


class ServiceError(Exception):
    """An operation refused: ``status`` (HTTP-like), ``code`` (stable), ``message`` (for people)."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 field: str | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status
        self.field = field


class Invalid(ServiceError):
    status, code = 400, "invalid"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class Unprocessable(ServiceError):
    """Well-formed but refused by the app (bad credentials, a capability the kind lacks)."""

    status, code = 422, "unprocessable"


class Unavailable(ServiceError):
    """The app could not be reached or answered with a server error."""

    status, code = 502, "app_unavailable"
