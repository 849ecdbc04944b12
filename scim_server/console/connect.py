"""The Connect app wizard: Connect your apps -> Select app -> (Grant access) -> Enter app details ->
Select automation account -> Connect app, which calls the service layer's ``connect`` once.

Steps carry their non-secret choices in the form (kind, label, business id, login method). The
one secret obtained along the way, the access token a vendor's App Authorization pop-up grants
(TikTok Business Center), is kept sealed by the vault in the admin's preferences until the app
is connected, and never rendered. A refused credential is shown on the field the service names.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from connectors.base import Secret
from connectors.errors import ConnectorError
from scim_server.console.web import Admin, admin_page, form_of, message, redirect_with, render, render_dialog
from scim_server.errors import ServiceError
from scim_server.services import apps as app_ops
from scim_server.services.schemas import ConnectApp
from scim_server.store import console as prefs

AUTHORIZING_KINDS = ("tiktok_business",)  # kinds whose token comes from the vendor's App Authorization
FIELD_LABELS = {
    "api_token": "API token", "username": "Username", "password": "Current password", "phone": "Phone number",
    "app_id": "App ID", "app_secret": "App secret", "private_key": "Private key", "key_id": "Key ID",
    "issuer_id": "Issuer ID", "totp_seed": "One-time password seed", "account_label": "Account label",
}  # fmt: skip
SECRET_FIELDS = ("api_token", "password", "app_secret", "private_key", "totp_seed")
HINTS = {"tiktok_business": "In TikTok Business Center: Business Settings > Business Info > Business Center ID.",
         "github": "The organization's login, as in github.com/ORGANIZATION."}  # fmt: skip


def _entry(kind: str) -> dict[str, Any]:
    try:
        return app_ops.catalog_entry(kind)
    except (KeyError, ServiceError):
        raise LookupError(kind) from None


def _sandbox_base(request: Request, admin: Admin) -> str:
    """Where the vendor APIs are: the sandbox (``serve --demo``) in this release."""
    settings = admin.services.settings
    base = (settings.public_base_url or f"{request.url.scheme}://{request.url.netloc}").rstrip("/")
    return (settings.sandbox_url or f"{base}/sandbox").rstrip("/")


@admin_page
async def intro(request: Request, admin: Admin) -> Response:
    return render_dialog(request, "connect_intro.html", {"dialog_title": "Connect your apps"}, admin)


@admin_page
async def select(request: Request, admin: Admin) -> Response:
    return render(request, "connect_select.html", {"catalog": app_ops.catalog(), "authorizing": AUTHORIZING_KINDS},
                  admin=admin)  # fmt: skip


@admin_page
async def grant(request: Request, admin: Admin) -> Response:
    """Grant access: a link that opens the vendor's App Authorization page in a pop-up."""
    kind = request.path_params["kind"]
    entry = _entry(kind)
    if kind not in AUTHORIZING_KINDS:
        raise LookupError(kind)
    from connectors.sandbox.tiktok_business_portal import APP_ID

    state = secrets.token_urlsafe(24)
    await admin.services.db.write(lambda conn: prefs.set_preference(conn, admin.ws, admin.actor, f"grant_state:{kind}", state))
    base = f"{request.url.scheme}://{request.url.netloc}"
    callback = f"{(admin.services.settings.public_base_url or base).rstrip('/')}/console/connect/{kind}/callback"
    url = f"{_sandbox_base(request, admin)}/{kind}/portal/auth?" + urlencode(
        {"app_id": APP_ID, "state": state, "redirect_uri": callback})
    return render(request, "connect_grant.html", {"entry": entry, "authorize_url": url}, admin=admin)


@admin_page
async def callback(request: Request, admin: Admin) -> Response:
    """Where the pop-up lands: exchange the code for the access token, keep it sealed, close."""
    kind = request.path_params["kind"]
    _entry(kind)
    state = await admin.services.db.read(lambda conn: prefs.get_preference(conn, admin.ws, admin.actor, f"grant_state:{kind}"))
    code = request.query_params.get("auth_code") or request.query_params.get("code") or ""
    if request.query_params.get("error") or not code or not state \
            or not secrets.compare_digest(state, request.query_params.get("state", "")):  # fmt: skip
        return render(request, "connect_callback.html", {"ok": False, "text": "Access was not granted."}, admin=admin)
    from connectors.http import HTTPSettings
    from connectors.sandbox.tiktok_business_portal import APP_ID, APP_SECRET
    from connectors.tiktok_business.client import exchange_auth_code, make_http

    http = make_http(f"{_sandbox_base(request, admin)}/{kind}", None, HTTPSettings())
    try:
        grant_ = await exchange_auth_code(http, APP_ID, Secret(APP_SECRET), code)
    except ConnectorError:
        return render(request, "connect_callback.html", {"ok": False, "text": "The app refused the authorization."},
                      admin=admin)  # fmt: skip
    finally:
        await http.aclose()
    sealed = admin.services.vault.seal({"api_token": grant_.access_token.reveal()})

    def unit(conn: Any) -> None:
        prefs.set_preference(conn, admin.ws, admin.actor, f"grant:{kind}", sealed)
        prefs.set_preference(conn, admin.ws, admin.actor, f"grant_state:{kind}", "")

    await admin.services.db.write(unit)
    return render(request, "connect_callback.html", {"ok": True, "text": "Access granted."}, admin=admin)


def _details(form: dict[str, str]) -> dict[str, str]:
    return {k: form.get(k, "").strip() for k in ("label", "business_id", "login_method")}


@admin_page
async def details(request: Request, admin: Admin) -> Response:
    kind = request.path_params["kind"]
    entry = _entry(kind)
    return render(request, "connect_details.html", {"entry": entry, "hint": HINTS.get(kind, ""),
                  "values": _details(dict(request.query_params)), "errors": {}}, admin=admin)  # fmt: skip


async def _granted(admin: Admin, kind: str) -> str | None:
    return await admin.services.db.read(lambda conn: prefs.get_preference(conn, admin.ws, admin.actor, f"grant:{kind}")) or None


def _account_fields(entry: dict[str, Any], granted: bool) -> list[str]:
    fields = [f for f in entry.get("account_fields", []) if not (granted and f == "api_token")]
    return fields


@admin_page
async def account(request: Request, admin: Admin) -> Response:
    kind = request.path_params["kind"]
    entry = _entry(kind)
    values = _details(dict(request.query_params))
    granted = await _granted(admin, kind) is not None
    accounts = await app_ops.automation_accounts(admin.services, admin.principal, kind)
    context = {"entry": entry, "values": values, "fields": _account_fields(entry, granted), "labels": FIELD_LABELS,
               "secret_fields": SECRET_FIELDS, "granted": granted, "errors": {}, "entered": {}, "accounts": accounts,
               "chosen": "new"}  # fmt: skip
    return render(request, "connect_account.html", context, admin=admin)


@admin_page
async def connect(request: Request, admin: Admin) -> Response:
    kind = request.path_params["kind"]
    entry = _entry(kind)
    form = await form_of(request)
    values = _details(form)
    sealed = await _granted(admin, kind)
    granted = admin.services.vault.open(sealed) if sealed else {}
    fields = _account_fields(entry, bool(granted))
    chosen = form.get("account", "new") or "new"
    reuse = None if chosen == "new" else chosen  # an existing account: its app's id
    typed = {} if reuse else {f: form.get(f, "").strip() for f in fields if form.get(f, "").strip()}
    account_values = typed | dict(granted)
    entered = {f: form.get(f, "") for f in (*fields, "account_label") if f not in SECRET_FIELDS}
    accounts = await app_ops.automation_accounts(admin.services, admin.principal, kind)
    context = {"entry": entry, "values": values, "fields": fields, "labels": FIELD_LABELS, "secret_fields": SECRET_FIELDS,
               "granted": bool(granted), "entered": entered, "accounts": accounts, "chosen": chosen}  # fmt: skip
    base = f"{_sandbox_base(request, admin)}/{kind}" if admin.services.settings.sandbox_url or _demo(request) else None
    try:
        body = ConnectApp(kind=kind, label=values["label"], business_id=values["business_id"] or None,
                          login_method=values["login_method"] or None, automation_account=account_values,
                          account_label=None if reuse else (form.get("account_label", "").strip() or None),
                          automation_account_of=reuse, api_base_url=base)  # fmt: skip
        app = await app_ops.connect(admin.services, admin.principal, body)
    except ValidationError as exc:
        field = ".".join(str(p) for p in exc.errors()[0]["loc"]).removeprefix("automation_account.") or "label"
        return render(request, "connect_account.html", context | {"errors": {field: exc.errors()[0]["msg"]}}, 400, admin)
    except ServiceError as exc:
        field = (exc.field or "automation_account").split(".")[-1]
        if field == "automation_account_of" or (field == "automation_account" and reuse):
            field = "account"
        elif field == "automation_account" and fields and not reuse:
            field = next((f for f in fields if f in SECRET_FIELDS), fields[0])
        return render(request, "connect_account.html", context | {"errors": {field: exc.message}}, exc.status, admin)
    await admin.services.db.write(lambda conn: prefs.set_preference(conn, admin.ws, admin.actor, f"grant:{kind}", ""))
    return await redirect_with(request, admin, "/console/apps", message("success", f"{app['label']} is connected."))


def _demo(request: Request) -> bool:
    """The sandbox is served beside the console (``serve --demo``, the tests)."""
    return any(getattr(r, "path", "") == "/sandbox" for r in request.app.routes)
