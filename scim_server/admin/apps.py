"""/api/v1/catalog and /api/v1/apps: connect (credentials checked first), list, configure, remove."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, HttpUrl
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from connectors import registry
from connectors.errors import AuthError, ConnectorError, PermissionDenied, RetryableError
from connectors.registry import CATALOG, UnknownKind, get_spec
from scim_server import cursor
from scim_server.admin.common import (
    Body,
    admin_call,
    json_response,
    page,
    page_params,
    parse_body,
)
from scim_server.audit.log import append as audit
from scim_server.connections import account_from, authorize_if_needed, build
from scim_server.errors import AdminError, Invalid
from scim_server.store import apps as store

SCOPE = "apps"  # the cursor scope of GET /apps


class Guard(Body):
    count: int = Field(10, ge=0)
    percent: int = Field(20, ge=0, le=100)


class AutomationIdentity(Body):
    """How to recognise the automation account's own member in the app (never removed)."""

    remote_id: str | None = Field(None, min_length=1, max_length=300)
    email: str | None = Field(None, min_length=3, max_length=320)


class ConnectApp(Body):
    kind: str
    label: str = Field(min_length=1, max_length=200)
    business_id: str | None = Field(None, max_length=200)
    login_method: Literal["sso", "password"] | None = None  # how members sign in; None: the kind's default
    automation_account: dict[str, str]
    api_base_url: HttpUrl | None = None
    deprovision_policy: Literal["report", "automatic"] = "report"
    schedule: str = Field("daily", pattern=r"^(daily|hourly|manual|([01]\d|2[0-3]):[0-5]\d)$")
    mass_removal_guard: Guard = Field(default_factory=Guard)
    automation_identity: AutomationIdentity | None = None


class ConfigureApp(Body):
    label: str | None = Field(None, min_length=1, max_length=200)
    login_method: Literal["sso", "password"] | None = None
    automation_account: dict[str, str] | None = None
    api_base_url: HttpUrl | None = None
    deprovision_policy: Literal["report", "automatic"] | None = None
    schedule: str | None = Field(None, pattern=r"^(daily|hourly|manual|([01]\d|2[0-3]):[0-5]\d)$")
    mass_removal_guard: Guard | None = None
    automation_identity: AutomationIdentity | None = None


def _identity(identity: AutomationIdentity | None, account: dict[str, str]) -> dict[str, str | None]:
    """Explicit identity wins; else a username that is an email address identifies the account."""
    if identity is not None:
        return {"automation_remote_id": identity.remote_id, "automation_email": identity.email}
    username = account.get("username", "")
    return {"automation_remote_id": None, "automation_email": username if "@" in username else None}


def catalog_entry(kind: str) -> dict[str, Any]:
    return registry.describe(kind)


async def catalog(request: Request) -> Response:
    await admin_call(request)
    return json_response({"items": [catalog_entry(kind) for kind in CATALOG]})


def _validate_account(kind: str, login_method: str | None, account: dict[str, str] | None,
                      business_id: str | None) -> tuple[str, dict[str, str] | None]:  # fmt: skip
    """The login method (the kind's default when None) and the account fields, as the catalog
    says (``connectors.registry``); a mismatch is a 400 naming the field."""
    spec = get_spec(kind)
    try:
        method = registry.check_login_method(kind, login_method)
        fields = registry.validate_credentials(kind, account) if account is not None else None
    except registry.CatalogError as exc:
        raise Invalid(f"{exc.field}: {exc.message}") from None
    if spec.needs_business_id and not business_id:
        raise Invalid(f"{spec.name} needs business_id ({spec.business_id_label}).")
    return method, fields


async def _checked_account(kind: str, account: dict[str, str], base: str | None, business_id: str | None) -> dict[str, str]:
    """Check the credentials against the app before anything is saved."""
    try:
        values = await authorize_if_needed(kind, dict(account), base, business_id)
        connector = build(kind, account_from(values), base, business_id)
        try:
            await connector.check()
        finally:
            await connector.aclose()
    except (AuthError, PermissionDenied) as exc:
        raise AdminError(f"The app refused the automation account: {exc}", code="invalid_credentials", status=422) from None
    except RetryableError as exc:
        raise AdminError(f"The app is unavailable: {exc}", code="app_unavailable", status=502) from None
    except ConnectorError as exc:
        raise AdminError(f"Checking the automation account failed: {exc}", code="check_failed", status=422) from None
    return values


async def connect(request: Request) -> Response:
    call = await admin_call(request)
    body = await parse_body(request, ConnectApp)
    try:
        get_spec(body.kind)
    except UnknownKind:
        raise Invalid(f"Unknown app kind {body.kind!r}; see GET /api/v1/catalog.") from None
    method, fields = _validate_account(body.kind, body.login_method, body.automation_account, body.business_id)
    base = str(body.api_base_url).rstrip("/") if body.api_base_url else None
    account = await _checked_account(body.kind, fields or {}, base, body.business_id)
    values = {
        "kind": body.kind, "label": body.label, "business_id": body.business_id, "login_method": method,
        "account_secret": call.services.vault.seal(account), "account_fields": sorted(account),
        "api_base_url": base, "deprovision_policy": body.deprovision_policy, "schedule": body.schedule,
        "mass_removal_count": body.mass_removal_guard.count, "mass_removal_percent": body.mass_removal_guard.percent,
        **_identity(body.automation_identity, account),
    }  # fmt: skip

    def unit(conn: Connection) -> dict[str, Any]:
        record = store.create_app_row(conn, call.ws, values)
        audit(conn, call.ws, call.actor, "app.connect", "App", record.id,
              detail={"kind": record.kind, "label": record.label, "account_fields": list(record.account_fields)})  # fmt: skip
        return record.public()

    return json_response(await call.services.db.write(unit), 201)


def _app_or_404(conn: Connection, ws: int, app_id: str) -> store.AppRecord:
    """The app; ``AppNotFound`` (a 404, mapped in scim_server/errors.py) if the workspace has none."""
    return store.get_app(conn, ws, app_id)


async def get_app(request: Request) -> Response:
    call = await admin_call(request)
    app_id = request.path_params["app_id"]

    def unit(conn: Connection) -> dict[str, Any]:
        return _app_or_404(conn, call.ws, app_id).public(store.member_counts(conn, app_id))

    return json_response(await call.services.db.read(unit))


async def list_apps(request: Request) -> Response:
    """Apps oldest first, paged on (created, id)."""
    call = await admin_call(request)
    raw, limit = page_params(request)
    after = cursor.decode_created_id(SCOPE, raw) if raw else None
    rows = await call.services.db.read(lambda conn: store.list_apps(conn, call.ws, after, limit + 1))
    return json_response(page(rows, limit, SCOPE, lambda r: (r.created, r.id), store.AppRecord.public))


async def configure(request: Request) -> Response:
    call = await admin_call(request)
    app_id = request.path_params["app_id"]
    body = await parse_body(request, ConfigureApp)
    current = await call.services.db.read(lambda conn: _app_or_404(conn, call.ws, app_id))
    values: dict[str, Any] = body.model_dump(
        exclude_unset=True, exclude={"automation_account", "mass_removal_guard", "automation_identity"}
    )
    for required in ("label", "deprovision_policy", "schedule", "login_method"):  # null: leave as it is
        if values.get(required, "") is None:
            del values[required]
    if "login_method" in values:
        values["login_method"], _ = _validate_account(current.kind, values["login_method"], None, current.business_id)
    if body.automation_identity is not None:
        values |= _identity(body.automation_identity, {})
    if "api_base_url" in values and values["api_base_url"] is not None:
        values["api_base_url"] = str(values["api_base_url"]).rstrip("/")
    if body.mass_removal_guard is not None:
        values |= {"mass_removal_count": body.mass_removal_guard.count,
                   "mass_removal_percent": body.mass_removal_guard.percent}  # fmt: skip
    if body.automation_account is not None:
        _, fields = _validate_account(current.kind, None, body.automation_account, current.business_id)
        base = values.get("api_base_url", current.api_base_url)
        account = await _checked_account(current.kind, fields or {}, base, current.business_id)
        values |= {"account_secret": call.services.vault.seal(account), "account_fields": sorted(account)}

    def unit(conn: Connection) -> dict[str, Any]:
        record = store.update_app(conn, call.ws, app_id, values)
        audit(conn, call.ws, call.actor, "app.configure", "App", app_id,
              detail={"changed": sorted(k for k in values if k != "account_secret")})  # fmt: skip
        return record.public()

    return json_response(await call.services.db.write(unit))


async def remove(request: Request) -> Response:
    call = await admin_call(request)
    app_id = request.path_params["app_id"]

    def unit(conn: Connection) -> None:
        record = _app_or_404(conn, call.ws, app_id)
        store.delete_app(conn, call.ws, app_id)
        audit(conn, call.ws, call.actor, "app.delete", "App", app_id, detail={"kind": record.kind, "label": record.label})

    await call.services.db.write(unit)
    return Response(status_code=204)
