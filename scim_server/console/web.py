"""What every console handler shares: templates, the signed-in admin, CSRF, message boxes, errors.

Handlers only parse, call the service layer (or a store read) and render. The session lives
server-side (``scim_server.store.console``); the cookie holds a random value whose hash names it.
Every state-changing request must carry the session's CSRF token (form field ``csrf`` or the
``X-CSRF-Token`` header htmx sends); without it the request is refused before anything runs.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from scim_server.auth import Principal
from scim_server.errors import AdminError
from scim_server.services import Services
from scim_server.store import console as session_store
from scim_server.store.db import iso_utc

log = logging.getLogger("scim_bridge.console")

HERE = Path(__file__).parent
SESSION_COOKIE = "sb_console"
PRE_COOKIE = "sb_console_pre"  # the sign-in form's CSRF value, before there is a session
HTMX_VERSION = "2.0.11"
TOUCH_EVERY = timedelta(seconds=30)  # how stale last_seen may get before a request writes it

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: Any) -> str:
    """A timestamp (datetime or ISO string) to the minute, UTC."""
    if not value:
        return "—"
    text = value if isinstance(value, str) else (iso_utc(value) or "")
    return text[:16].replace("T", " ")


templates.filters["when"] = _when


class CsrfFailed(Exception):
    """A state-changing request without this session's CSRF token."""


@dataclass(frozen=True, slots=True)
class Admin:
    """The signed-in admin: the same workspace and actor as an admin token gives the API."""

    services: Services
    session: session_store.SessionRecord

    @property
    def ws(self) -> int:
        return self.session.workspace_id

    @property
    def actor(self) -> str:
        return self.session.actor

    @property
    def principal(self) -> Principal:
        return Principal(self.session.workspace_id, self.session.workspace, frozenset({"admin"}), self.session.actor)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def secure_cookies(request: Request) -> bool:
    """Secure cookies behind HTTPS: the request's own scheme (uvicorn honours X-Forwarded-Proto from
    trusted proxies) or a configured https public base URL."""
    base = services_of(request).settings.public_base_url or ""
    return request.url.scheme == "https" or base.startswith("https://")


async def form_of(request: Request) -> dict[str, str]:
    """An urlencoded form (what the console's forms and htmx send); bounded like every body."""
    raw = await request.body()
    if len(raw) > services_of(request).settings.max_payload_size:
        raise AdminError("The form is too large.", code="too_large", status=413)
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=2000))


async def form_lists(request: Request) -> dict[str, list[str]]:
    """The form with repeated fields kept (bulk selections)."""
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True,
                                max_num_fields=2000):  # fmt: skip
        out.setdefault(key, []).append(value)
    return out


async def current_session(request: Request) -> session_store.SessionRecord | None:
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    services = services_of(request)
    settings = services.settings
    idle, absolute = timedelta(seconds=settings.console_idle_seconds), timedelta(seconds=settings.console_absolute_seconds)
    record = await services.db.read(lambda conn: session_store.live_session(conn, value, idle, absolute))
    if record is not None and session_store.now() - record.last_seen > TOUCH_EVERY:
        await services.db.write(lambda conn: session_store.touch_session(conn, record.id_hash))
    return record


def render(request: Request, name: str, context: Mapping[str, Any], status: int = 200,
           admin: Admin | None = None, flash: Mapping[str, Any] | None = None) -> HTMLResponse:  # fmt: skip
    """A page (or, for htmx requests that asked for a fragment, the same template's content).

    htmx requests get status 200 even for a refused action, with the message box in the page:
    a browser logs failed XHRs as console errors, and the page, not the status, is what an admin reads.
    """
    values = {
        "request": request, "admin": admin, "flash": flash, "htmx_version": HTMX_VERSION,
        "csrf": admin.session.csrf if admin else request.cookies.get(PRE_COOKIE, ""),
        "path": request.url.path, **context,
    }  # fmt: skip
    body = templates.get_template(name).render(values)
    return HTMLResponse(body, 200 if is_htmx(request) and status < 500 else status)


DIALOG_HOST = "dialog-host"


def render_dialog(request: Request, name: str, context: Mapping[str, Any], admin: Admin, status: int = 200) -> HTMLResponse:
    """A dialog: the native ``<dialog>`` fragment when htmx asked for it into ``#dialog-host``,
    else the same content as a page of its own (the no-JS fallback, and a link opened anew)."""
    as_dialog = is_htmx(request) and request.headers.get("hx-target") == DIALOG_HOST
    layout = "_dialog_fragment.html" if as_dialog else "_dialog_page.html"
    return render(request, name, {**context, "layout": layout, "as_dialog": as_dialog}, status, admin)


def message(kind: str, text: str, link: str | None = None, link_text: str | None = None) -> dict[str, Any]:
    """A message box: ``kind`` is success or error."""
    return {"kind": kind, "text": text, "link": link, "link_text": link_text}


async def redirect_with(request: Request, admin: Admin, url: str, flash: Mapping[str, Any] | None = None) -> Response:
    """Post/redirect/get: the message box is kept on the session for the next page."""
    if flash is not None:
        stored = json.dumps(dict(flash))[:2000]
        await admin.services.db.write(lambda conn: session_store.set_flash(conn, admin.session.id_hash, stored))
    return RedirectResponse(url, 303)


async def take_flash(admin: Admin) -> dict[str, Any] | None:
    if admin.session.flash is None:
        return None
    await admin.services.db.write(lambda conn: session_store.set_flash(conn, admin.session.id_hash, None))
    try:
        found = json.loads(admin.session.flash)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def check_csrf(request: Request, expected: str, form: Mapping[str, str] | None) -> None:
    presented = request.headers.get("x-csrf-token") or (form or {}).get("csrf", "")
    if not expected or not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise CsrfFailed()


def to_sign_in(request: Request) -> Response:
    target = "/console/sign-in?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, 303)


Handler = Callable[[Request, Admin], Awaitable[Response]]


def admin_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A console endpoint for signed-in admins: no session -> sign in; a state-changing method
    without the CSRF token -> 403 before the handler runs; errors -> a page, never a 5xx."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        record = await current_session(request)
        if record is None:
            return to_sign_in(request)
        admin = Admin(services_of(request), record)
        if request.method not in ("GET", "HEAD"):
            form = None
            if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                form = await form_of(request)
            try:
                check_csrf(request, record.csrf, form)
            except CsrfFailed:
                return render(request, "error.html", {"title": "Request refused",
                              "text": "This form has expired or did not come from the console. Reload the page and try again."},
                              403, admin)  # fmt: skip
        try:
            return await handler(request, admin)
        except AdminError as exc:
            return render(request, "error.html", {"title": _title(exc.status), "text": exc.message},
                          exc.status, admin)  # fmt: skip
        except LookupError as exc:  # AppNotFound, JobNotFound, ...: another workspace's objects too
            log.info("console 404: %s", type(exc).__name__)
            return render(request, "error.html", {"title": "Not found", "text": "There is nothing here."}, 404, admin)

    return endpoint


def _title(status: int) -> str:
    return {404: "Not found", 409: "Conflict", 403: "Not allowed"}.get(status, "Something is not right")
