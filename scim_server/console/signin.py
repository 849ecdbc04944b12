"""Signing in and out: an admin-scoped token pasted on the sign-in page, or OpenID Connect.

The token is checked exactly as the admin API checks a bearer token (``Authenticator``), then
forgotten: the session names the token's id, never the token. Before a session exists, the
sign-in form carries a per-browser CSRF value (a cookie and a hidden field that must agree), so
another site cannot sign a browser in to an account of its choosing.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from scim_server.auth import AuthenticationFailed, ScopeDenied
from scim_server.console import oidc
from scim_server.console.web import (
    PRE_COOKIE,
    SESSION_COOKIE,
    CsrfFailed,
    check_csrf,
    current_session,
    form_of,
    render,
    secure_cookies,
    services_of,
)
from scim_server.store import console as session_store
from scim_server.store import tenancy


def safe_next(value: str | None) -> str:
    """Only a path inside the console: never an open redirect."""
    if not value or not value.startswith("/console") or value.startswith("//"):
        return "/console/apps"
    parts = urlsplit(value)
    return "/console/apps" if parts.scheme or parts.netloc else value


def _with_pre_cookie(request: Request, response: Response, value: str) -> Response:
    response.set_cookie(PRE_COOKIE, value, httponly=True, samesite="lax", secure=secure_cookies(request),
                        path="/console")  # fmt: skip
    return response


def sign_in_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    request.cookies[PRE_COOKIE] = pre  # so the form rendered now carries it
    context = {"next": safe_next(request.query_params.get("next")), "error": error,
               "oidc": oidc.configured(services_of(request).settings),
               "expired": request.query_params.get("expired") == "1"}  # fmt: skip
    return _with_pre_cookie(request, render(request, "sign_in.html", context, status), pre)


async def sign_in_form(request: Request) -> Response:
    if await current_session(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), 303)
    return sign_in_page(request)


def start_session(request: Request, value: str, target: str) -> Response:
    response = RedirectResponse(target, 303)
    response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="lax", secure=secure_cookies(request),
                        path="/console", max_age=int(services_of(request).settings.console_absolute_seconds))  # fmt: skip
    response.delete_cookie(PRE_COOKIE, path="/console")
    return response


async def sign_in(request: Request) -> Response:
    form = await form_of(request)
    try:
        check_csrf(request, request.cookies.get(PRE_COOKIE, ""), form)
    except CsrfFailed:
        return sign_in_page(request, "The sign-in form expired. Try again.", 403)
    services = services_of(request)
    token = form.get("token", "").strip()
    try:
        principal = await services.auth.authenticate(f"Bearer {token}", "admin")
    except ScopeDenied:
        return sign_in_page(request, "This token is not an admin token.", 403)
    except AuthenticationFailed:
        return sign_in_page(request, "This token is not valid. Check it and try again.", 401)
    label = f"token {principal.actor} ({principal.workspace})"
    value, _ = await services.db.write(
        lambda conn: session_store.create_session(conn, principal.workspace_id, principal.actor, principal.actor,
                                                  label)
    )
    return start_session(request, value, safe_next(form.get("next")))


async def sign_out(request: Request) -> Response:
    record = await current_session(request)
    if record is not None:
        form = await form_of(request)
        try:
            check_csrf(request, record.csrf, form)
        except CsrfFailed:
            return render(request, "error.html", {"title": "Request refused", "text": "Reload the page and try again."}, 403)
        await services_of(request).db.write(lambda conn: session_store.end_session(conn, record.id_hash))
    response = RedirectResponse("/console/sign-in", 303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


async def oidc_start(request: Request) -> Response:
    if not oidc.configured(services_of(request).settings):
        return sign_in_page(request, "OpenID Connect sign-in is not configured.", 404)
    try:
        return await oidc.start(request, safe_next(request.query_params.get("next")))
    except (OSError, ValueError, oidc.OidcRefused, httpx.HTTPError):
        return sign_in_page(request, "The identity provider cannot be reached. Try again later.", 502)


async def oidc_callback(request: Request) -> Response:
    settings = services_of(request).settings
    if not oidc.configured(settings):
        return sign_in_page(request, "OpenID Connect sign-in is not configured.", 404)
    try:
        email, name, target = await oidc.finish(request)
    except oidc.OidcRefused as exc:
        return sign_in_page(request, str(exc), 403)
    except (OSError, httpx.HTTPError):
        return sign_in_page(request, "The identity provider cannot be reached. Try again later.", 502)
    services = services_of(request)

    def unit(conn: Connection) -> tuple[str, str]:
        ws = tenancy.ensure_workspace(conn, settings.console_oidc_workspace)
        return session_store.create_session(conn, ws, None, f"oidc:{email}"[:100], f"{name} <{email}>")

    value, _ = await services.db.write(unit)
    response = start_session(request, value, safe_next(target))
    response.delete_cookie(oidc.FLOW_COOKIE, path="/console/oidc")
    return response
