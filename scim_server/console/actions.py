"""Console actions that are not governance operations: tokens on the Settings page and the
admin's remembered choices. Each parses the form, calls one operation and redirects with a
message box (post/redirect/get); a new token is the one secret a page shows, once, unstored.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from scim_server.audit.log import append as audit
from scim_server.console.web import Admin, admin_page, form_of, message, redirect_with, render
from scim_server.errors import ServiceError
from scim_server.notify import service as notify_ops
from scim_server.store import console as session_store
from scim_server.store import tenancy
from scim_server.store.db import iso_utc, now

SCOPES = ("scim", "admin", "audit")
EXPIRY_DAYS = ("7", "30", "90", "365")  # the Expires choices; none: never


@admin_page
async def create_token(request: Request, admin: Admin) -> Response:
    form = await form_of(request)
    scope = form.get("scope", "")
    if scope not in SCOPES:
        return await redirect_with(request, admin, "/console/settings", message("error", "Choose a scope for the token."))
    label = form.get("label", "").strip()[:200] or None
    days = form.get("expires_in_days", "")
    if days and days not in EXPIRY_DAYS:
        return await redirect_with(request, admin, "/console/settings", message("error", "Choose when the token expires."))
    expires = now() + timedelta(days=int(days)) if days else None

    def unit(conn: Connection) -> tuple[str, str]:
        token_id, token = tenancy.create_token(conn, admin.session.workspace, scope, label, expires)
        audit(conn, admin.ws, admin.actor, "token.create", "ApiToken", token_id,
              detail={"scope": scope, "expires": iso_utc(expires)})  # fmt: skip
        return token_id, token

    token_id, token = await admin.services.db.write(unit)
    from scim_server.console.pages import settings_context

    context = await settings_context(request, admin) | {"created": {"id": token_id, "token": token, "expires": expires}}
    return render(request, "settings.html", context, admin=admin)


@admin_page
async def revoke_token(request: Request, admin: Admin) -> Response:
    token_id = request.path_params["token_id"]
    if not await admin.services.auth.revoke(token_id, admin.ws):
        return await redirect_with(request, admin, "/console/settings",
                                   message("error", f"No active token {token_id} in this workspace."))  # fmt: skip
    await admin.services.db.write(lambda conn: audit(conn, admin.ws, admin.actor, "token.revoke", "ApiToken", token_id))
    if token_id == admin.session.token_id:  # this session's own token: it ended with it
        return await redirect_with(request, admin, "/console/sign-in")
    return await redirect_with(request, admin, "/console/settings", message("success", f"Token {token_id} revoked."))


@admin_page
async def hide_connect_intro(request: Request, admin: Admin) -> Response:
    """"Don't show this again" on the Connect your apps dialog, remembered for this admin."""
    await admin.services.db.write(
        lambda conn: session_store.set_preference(conn, admin.ws, admin.actor, "hide_connect_intro", "1"))
    return await redirect_with(request, admin, "/console/connect/select")


@admin_page
async def save_notifications(request: Request, admin: Admin) -> Response:
    """The workspace's notification addresses (one a line, or separated by commas)."""
    form = await form_of(request)
    emails = [e.strip() for e in form.get("emails", "").replace(",", "\n").splitlines() if e.strip()]
    try:
        body = notify_ops.NotificationSettingsBody(emails=emails)
        saved = await notify_ops.put_settings(admin.services, admin.principal, body)
    except (ServiceError, ValueError) as exc:
        text = str(exc) if isinstance(exc, ServiceError) else f"At most {notify_ops.MAX_EMAILS} addresses."
        return await redirect_with(request, admin, "/console/settings", message("error", text))
    count = len(saved["emails"])
    return await redirect_with(request, admin, "/console/settings",
                               message("success", f"Notification emails saved ({count} address{'es' if count != 1 else ''})."))  # fmt: skip
