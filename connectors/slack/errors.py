"""Slack Web API errors -> ``connectors.errors`` (vendor-apis.md section 4b; docs.slack.dev
"Web API basics: evaluating responses" and "Rate limits").

Slack answers logical failures with HTTP 200 and ``{"ok": false, "error": "<code>"}``, so the
classifier reads the body of every 2xx; throttling is HTTP 429 + ``Retry-After`` (seconds) and
outages are 5xx, which the shared status map in ``connectors.http`` already handles.
"""

from __future__ import annotations

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

__all__ = ["AUTH_ERRORS", "NOT_FOUND_ERRORS", "PERMISSION_ERRORS", "classify"]

AUTH_ERRORS = frozenset({"not_authed", "invalid_auth", "token_expired", "token_revoked", "account_inactive",
                         "org_login_required", "two_factor_setup_required"})
PERMISSION_ERRORS = frozenset({"not_an_admin", "missing_scope", "not_allowed_token_type", "no_permission",
                               "feature_not_enabled", "ekm_access_denied", "access_denied", "not_an_enterprise",
                               "team_access_not_granted", "restricted_action"})
NOT_FOUND_ERRORS = frozenset({"user_not_found", "users_not_found", "team_not_found", "channel_not_found"})
UNAVAILABLE_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})

_TABLE: dict[frozenset[str], type[ConnectorError]] = {
    AUTH_ERRORS: AuthError, PERMISSION_ERRORS: PermissionDenied, NOT_FOUND_ERRORS: NotFound,
    UNAVAILABLE_ERRORS: VendorUnavailable,
}


def classify(kind: str, operation: str, response: httpx.Response) -> ConnectorError | None:
    """The ``connectors.http.Classifier`` of Slack: ``ok: false`` in a 2xx body becomes a typed
    error (``vendor_code`` = Slack's ``error``); statuses >= 400 are left to the status map."""
    if response.status_code >= 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return VendorUnavailable(kind, operation, "response is not JSON", status=response.status_code)
    if not isinstance(body, dict) or body.get("ok") is not False:
        return None
    code = str(body.get("error") or "unknown_error")
    detail = code + (f" (needed: {body['needed']})" if body.get("needed") else "")
    status = response.status_code
    if code == "ratelimited":
        return RateLimited(kind, operation, detail, status=status, vendor_code=code)
    cls = next((error for codes, error in _TABLE.items() if code in codes), InvalidRequest)
    return cls(kind, operation, detail, status=status, vendor_code=code)
