"""The HTML side of the TikTok fake: App Authorization pages (``/tiktok_business/portal/...``).

``GET /portal/auth?app_id=&state=&redirect_uri=`` shows the login form; ``POST /portal/login``
checks the account (wrong password -> the form again with an alert), sets a session cookie and
redirects to ``GET /portal/consent``, whose modal dialog asks to confirm access for the app;
``POST /portal/consent`` (``decision=confirm``) redirects (302) to ``redirect_uri`` with ``auth_code``
and ``state`` (``decision=cancel``: ``error=access_denied``). ``GET /portal/callback`` is a landing
page usable as ``redirect_uri``. Auth codes are single-use; ``redeem`` hands one to the API fake's
``oauth2/access_token/``.

Who can log in: an active ``ADMIN`` member of some seeded BC (username = email), with password
``PORTAL_PASSWORD``; the only app is ``APP_ID`` (secret ``APP_SECRET``). Templates live in
``templates/tiktok_business/``.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.sandbox.store import OrgState, SandboxStore

__all__ = ["APP_ID", "APP_NAME", "APP_SECRET", "PORTAL_PASSWORD", "SCOPES", "TikTokPortal"]

PORTAL_PASSWORD = "tiktok-sandbox-password"
APP_ID, APP_SECRET, APP_NAME = "7300000000000000001", "sandbox-app-secret", "scim-bridge"
SCOPES = {4: "Business Center management", 10: "Ad account management", 21: "Read ad account information"}
TEMPLATES = Path(__file__).parent / "templates" / "tiktok_business"
SESSION_COOKIE = "tt_portal_session"
_RAW_HTML = ("error", "scopes")  # values the portal builds itself, already escaped


class TikTokPortal:
    """Portal state (sessions, pending auth codes) and routes, over the kind's ``SandboxStore`` tables."""

    def __init__(self, store: SandboxStore, kind: str) -> None:
        self.store, self.kind = store, kind
        self._sessions: dict[str, str] = {}  # session id -> username
        self._codes: dict[str, tuple[str, str]] = {}  # auth_code -> (app_id, username)
        self._css = (TEMPLATES / "base.css").read_text()

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/portal/auth", self.auth, methods=["GET"]),
            Route("/portal/login", self.login, methods=["POST"]),
            Route("/portal/consent", self.consent, methods=["GET", "POST"]),
            Route("/portal/callback", self.callback, methods=["GET"]),
        ]

    def redeem(self, app_id: str, auth_code: str) -> str | None:
        """The username an unused ``auth_code`` of ``app_id`` was issued to (the code is spent)."""
        issued = self._codes.pop(auth_code, None)
        return issued[1] if issued is not None and issued[0] == app_id else None

    def admin_orgs(self, username: str) -> list[OrgState]:
        """The BCs where ``username`` is an active ADMIN (what a token issued to them reaches)."""
        found = []
        for org in self.store.orgs(self.kind):
            member = org.by_email(username)
            if member is not None and member.status == "active" and member.role == "ADMIN":
                found.append(org)
        return found

    # -- pages -----------------------------------------------------------------------------------

    def _render(self, name: str, values: Mapping[str, str], status: int = 200) -> HTMLResponse:
        escaped = {k: v if k in _RAW_HTML else html.escape(v) for k, v in values.items()}
        template = Template((TEMPLATES / name).read_text())
        return HTMLResponse(template.substitute(css=self._css, **escaped), status)

    def _failure(self, text: str) -> HTMLResponse:
        return self._render("message.html", {"title": "Authorization failed", "text": text}, 400)

    def _login_page(self, params: Mapping[str, str], username: str, error: str) -> HTMLResponse:
        alert = f'<div class="form-error" role="alert">{html.escape(error)}</div>' if error else ""
        return self._render("login.html", {"app_name": APP_NAME, "username": username, "error": alert, **params})

    async def auth(self, request: Request) -> Response:
        params = _flow_params(request.query_params)
        problem = _flow_problem(params)
        return self._failure(problem) if problem else self._login_page(params, "", "")

    async def login(self, request: Request) -> Response:
        form = await _form_body(request)
        params = _flow_params(form)
        problem = _flow_problem(params)
        if problem:
            return self._failure(problem)
        username = form.get("username", "").strip()
        if form.get("password") != PORTAL_PASSWORD or not self.admin_orgs(username):
            return self._login_page(params, username, "Incorrect account or password. Please try again.")
        session = secrets.token_urlsafe(24)
        self._sessions[session] = username
        response = RedirectResponse(f"consent?{urlencode(params)}", 303)
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="lax")
        return response

    async def consent(self, request: Request) -> Response:
        form = dict(request.query_params) if request.method == "GET" else await _form_body(request)
        params = _flow_params(form)
        problem = _flow_problem(params)
        username = self._sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        if problem:
            return self._failure(problem)
        if username is None:
            return RedirectResponse(f"auth?{urlencode(params)}", 303)
        if request.method == "GET":
            scopes = "".join(f"<li>{html.escape(s)}</li>" for s in SCOPES.values())
            return self._render("consent.html", {"app_name": APP_NAME, "username": username, "scopes": scopes,
                                                 **params})
        if form.get("decision") != "confirm":
            return RedirectResponse(_with_query(params["redirect_uri"], error="access_denied",
                                                state=params["state"]), 302)
        code = secrets.token_hex(16)
        self._codes[code] = (params["app_id"], username)
        return RedirectResponse(_with_query(params["redirect_uri"], auth_code=code, code=code,
                                            state=params["state"]), 302)

    async def callback(self, request: Request) -> Response:
        return self._render("message.html", {"title": "Authorization complete",
                                              "text": "You can close this window."})


def _flow_params(source: Mapping[str, str]) -> dict[str, str]:
    return {k: str(source.get(k) or "") for k in ("app_id", "state", "redirect_uri")}


def _flow_problem(params: Mapping[str, str]) -> str:
    if params["app_id"] != APP_ID:
        return "The app_id is invalid or the app is not approved."
    parts = urlsplit(params["redirect_uri"])
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "The redirect_uri is invalid."
    return ""


def _with_query(url: str, **extra: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _form_body(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (no python-multipart needed)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
