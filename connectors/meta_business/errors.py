"""Meta Graph API error envelope -> ``connectors.errors`` (vendor-apis.md section 2, "Errors and rate
limits"; developers.facebook.com/docs/graph-api/guides/error-handling).

Graph errors are ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id",
"is_transient"}}``, usually with HTTP 400 (500 for server faults). The body code decides, not the
status:

- ``190`` (invalid / expired / revoked token; subcode 463 = expired) and ``102`` (session) ->
  ``AuthError``, never retried;
- ``4`` (app), ``17`` (user), ``32`` (page), ``613``, ``80000``-``80099`` (Business Use Case) throttles ->
  ``RateLimited``; the wait comes from ``X-Business-Use-Case-Usage[...].estimated_time_to_regain_access``
  (minutes), else exponential backoff (Graph sends no ``Retry-After``);
- ``1`` / ``2`` or ``is_transient: true`` -> ``VendorUnavailable``;
- ``10`` and ``200``-``299`` -> ``PermissionDenied``;
- ``100`` with subcode ``33`` ("object does not exist, cannot be loaded due to missing permissions")
  -> ``NotFound``; any other code -> ``InvalidRequest`` with ``vendor_code`` = the code.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    VendorUnavailable,
)

__all__ = ["THROTTLE_CODES", "classify", "regain_access_seconds"]

AUTH_CODES = frozenset({102, 190})
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80100)})
TRANSIENT_CODES = frozenset({1, 2})
MISSING_OBJECT_SUBCODE = 33


def _error_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def regain_access_seconds(response: httpx.Response) -> float | None:
    """The longest ``estimated_time_to_regain_access`` (minutes) in ``X-Business-Use-Case-Usage``
    (or ``X-Ad-Account-Usage``'s ``reset_time_duration``, seconds), in seconds; ``None`` if absent
    or zero (then back off exponentially)."""
    minutes = 0.0
    raw = response.headers.get("x-business-use-case-usage")
    if raw:
        try:
            usage = json.loads(raw)
        except ValueError:
            usage = {}
        for entries in usage.values() if isinstance(usage, dict) else ():
            for entry in entries if isinstance(entries, list) else ():
                value = entry.get("estimated_time_to_regain_access") if isinstance(entry, dict) else None
                if isinstance(value, int | float):
                    minutes = max(minutes, float(value))
    return minutes * 60 if minutes > 0 else None


def classify(kind: str, operation: str, response: httpx.Response) -> ConnectorError | None:
    """The ``connectors.http.Classifier`` of Meta: maps the Graph error envelope (any status)."""
    error = _error_body(response)
    if error is None:
        return None
    code = error.get("code")
    detail = str(error.get("message") or "")
    status, vendor_code = response.status_code, str(code)
    if code in THROTTLE_CODES:
        return RateLimited(kind, operation, detail, retry_after=regain_access_seconds(response), status=status,
                           vendor_code=vendor_code)
    cls = _error_class(code, error.get("error_subcode"), error.get("is_transient") is True or status >= 500)
    return cls(kind, operation, detail, status=status, vendor_code=vendor_code)


def _error_class(code: object, subcode: object, transient: bool) -> type[ConnectorError]:
    if code in AUTH_CODES:
        return AuthError
    if code in TRANSIENT_CODES or transient:
        return VendorUnavailable
    if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        return PermissionDenied
    if code == 100 and subcode == MISSING_OBJECT_SUBCODE:
        return NotFound
    return InvalidRequest
