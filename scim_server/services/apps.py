"""Apps: the catalog, connect (the credentials are checked against the app before anything is
saved), list, read, configure, remove. Each write commits its change and its audit event together."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from connectors.base import Authorizes
from connectors.errors import AuthError, ConnectorError, PermissionDenied, RetryableError
from connectors.registry import CATALOG, UnknownKind, capabilities, get_spec
from scim_server import reconcile
from scim_server.audit.log import append as audit
from scim_server.auth import Principal
from scim_server.connections import account_from, authorize_if_needed, build
from scim_server.services import Services
from scim_server.services.errors import Conflict, Invalid, Unavailable, Unprocessable
from scim_server.services.paging import PageRequest, page_of
from scim_server.services.schemas import AutomationIdentity, ConfigureApp, ConnectApp
from scim_server.store import apps as store
from scim_server.store.apps import AppRecord

SCOPE = "apps"  # the cursor scope of the app list


def catalog_entry(kind: str) -> dict[str, Any]:
    spec = get_spec(kind)
    return {
        "kind": spec.kind, "name": spec.name, "capabilities": list(capabilities(spec.cls)),
        "needs_business_id": spec.needs_business_id, "business_id_label": spec.business_id_label,
        "login_methods": list(spec.login_methods), "default_login_method": default_login_method(kind),
        "account_fields": list(spec.account_fields),
        "roles": [{"key": r.key, "name": r.name, "owner_level": r.owner_level} for r in spec.roles],
    }  # fmt: skip


def catalog() -> list[dict[str, Any]]:
    return [catalog_entry(kind) for kind in CATALOG]


def default_login_method(kind: str) -> str:
    """How members sign in when the admin does not say: through the IdP where the kind allows it."""
    methods = get_spec(kind).login_methods
    return "sso" if "sso" in methods else methods[0]


def _spec(kind: str) -> Any:
    try:
        return get_spec(kind)
    except UnknownKind:
        raise Invalid(f"Unknown app kind {kind!r}; see the catalog.", field="kind") from None


def _check_login_method(kind: str, method: str) -> None:
    spec = get_spec(kind)
    if method not in spec.login_methods:
        raise Invalid(f"{spec.name} members sign in with: {', '.join(spec.login_methods)}.", field="login_method")


def _check_account_fields(kind: str, account: dict[str, str]) -> None:
    """The kind's own fields: an API kind's token or keys (all of them); a kind that authorizes
    (TikTok Business Center) takes a token, or username and password for its login flow."""
    spec = get_spec(kind)
    unknown = set(account) - set(spec.account_fields)
    if unknown:
        raise Invalid(f"{spec.name} takes no automation account field {', '.join(sorted(unknown))}; "
                      f"its fields: {', '.join(spec.account_fields)}.", field="automation_account")  # fmt: skip
    if issubclass(spec.cls, Authorizes):
        if account.get("api_token") or (account.get("username") and account.get("password")):
            return
        missing = ["username"] if not account.get("username") else ["password"]
    else:
        missing = [f for f in spec.account_fields if not account.get(f)]
        if not missing:
            return
    raise Invalid(f"{spec.name} needs {', '.join(missing)} in the automation account.",
                  field=f"automation_account.{missing[0]}")  # fmt: skip


def _identity(identity: AutomationIdentity | None, account: dict[str, str]) -> dict[str, str | None]:
    """Explicit identity wins; else a username that is an email address identifies the account."""
    if identity is not None:
        return {"automation_remote_id": identity.remote_id, "automation_email": identity.email}
    username = account.get("username", "")
    return {"automation_remote_id": None, "automation_email": username if "@" in username else None}


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
        raise Unprocessable(f"The app refused the automation account: {exc}", code="invalid_credentials",
                            field="automation_account") from None  # fmt: skip
    except RetryableError as exc:
        raise Unavailable(f"The app is unavailable: {exc}") from None
    except ConnectorError as exc:
        raise Unprocessable(f"Checking the automation account failed: {exc}", code="check_failed") from None
    return values


def _refuse_duplicate(conn: Connection, ws: int, kind: str, business_id: str | None, app_id: str | None = None) -> None:
    if business_id is None:
        return
    existing = store.find_by_business_id(conn, ws, kind, business_id)
    if existing is not None and existing.id != app_id:
        raise Conflict(f"{get_spec(kind).name} {business_id} is already connected as {existing.label!r}.",
                       code="already_connected", field="business_id")  # fmt: skip


async def connect(svc: Services, who: Principal, body: ConnectApp) -> dict[str, Any]:
    spec = _spec(body.kind)
    method = body.login_method or default_login_method(body.kind)
    _check_login_method(body.kind, method)
    if spec.needs_business_id and not body.business_id:
        raise Invalid(f"{spec.name} needs its {spec.business_id_label}.", field="business_id")
    _check_account_fields(body.kind, body.automation_account)
    await svc.db.read(lambda conn: _refuse_duplicate(conn, who.workspace_id, body.kind, body.business_id))
    base = str(body.api_base_url).rstrip("/") if body.api_base_url else None
    account = await _checked_account(body.kind, body.automation_account, base, body.business_id)
    values = {
        "kind": body.kind, "label": body.label, "business_id": body.business_id, "login_method": method,
        "account_secret": svc.vault.seal(account), "account_fields": sorted(account),
        "api_base_url": base, "deprovision_policy": body.deprovision_policy, "schedule": body.schedule,
        "mass_removal_count": body.mass_removal_guard.count, "mass_removal_percent": body.mass_removal_guard.percent,
        **_identity(body.automation_identity, account),
    }  # fmt: skip

    def unit(conn: Connection) -> dict[str, Any]:
        _refuse_duplicate(conn, who.workspace_id, body.kind, body.business_id)
        record = store.create_app_row(conn, who.workspace_id, values)
        audit(conn, who.workspace_id, who.actor, "app.connect", "App", record.id,
              detail={"kind": record.kind, "label": record.label, "login_method": method,
                      "account_fields": list(record.account_fields)})  # fmt: skip
        return record.public()

    return await svc.db.write(unit)


async def get_app(svc: Services, who: Principal, app_id: str) -> dict[str, Any]:
    def unit(conn: Connection) -> dict[str, Any]:
        return store.get_app(conn, who.workspace_id, app_id).public(store.member_counts(conn, app_id))

    return await svc.db.read(unit)


async def list_apps(svc: Services, who: Principal, page: PageRequest) -> dict[str, Any]:
    """Apps oldest first, paged on (created, id), each with its member counts per set."""
    after = page.after_created_id(SCOPE)

    def unit(conn: Connection) -> dict[str, Any]:
        rows = store.list_apps(conn, who.workspace_id, after, page.fetch)
        counts = store.member_counts_of(conn, [r.id for r in rows[: page.limit]])
        return page_of(rows, page.limit, SCOPE, lambda r: (r.created, r.id), lambda r: r.public(counts.get(r.id, {})))

    return await svc.db.read(unit)


async def configure(svc: Services, who: Principal, app_id: str, body: ConfigureApp) -> dict[str, Any]:
    current = await svc.db.read(lambda conn: store.get_app(conn, who.workspace_id, app_id))
    values: dict[str, Any] = body.model_dump(
        exclude_unset=True, exclude={"automation_account", "mass_removal_guard", "automation_identity"}
    )
    for required in ("label", "deprovision_policy", "schedule", "login_method"):  # null: leave as it is
        if values.get(required, "") is None:
            del values[required]
    if "login_method" in values:
        _check_login_method(current.kind, values["login_method"])
    if body.automation_identity is not None:
        values |= _identity(body.automation_identity, {})
    if "api_base_url" in values and values["api_base_url"] is not None:
        values["api_base_url"] = str(values["api_base_url"]).rstrip("/")
    if body.mass_removal_guard is not None:
        values |= {"mass_removal_count": body.mass_removal_guard.count,
                   "mass_removal_percent": body.mass_removal_guard.percent}  # fmt: skip
    if body.automation_account is not None:
        _check_account_fields(current.kind, body.automation_account)
        base = values.get("api_base_url", current.api_base_url)
        account = await _checked_account(current.kind, body.automation_account, base, current.business_id)
        values |= {"account_secret": svc.vault.seal(account), "account_fields": sorted(account)}
        if body.automation_identity is None:
            values |= _identity(None, account)

    def unit(conn: Connection) -> dict[str, Any]:
        before = store.get_app(conn, who.workspace_id, app_id)
        record = store.update_app(conn, who.workspace_id, app_id, values)
        changed = sorted(k for k in values if k not in ("account_secret", "account_fields"))
        audit(conn, who.workspace_id, who.actor, "app.configure", "App", app_id,
              detail={"changed": changed, "before": _public_subset(before, changed),
                      "after": _public_subset(record, changed)})  # fmt: skip
        if _replans(values):  # who the automation account is, or the policy, changes the plan
            reconcile.persist(conn, who.workspace_id, reconcile.load(conn, who.workspace_id, record), who.actor)
        return record.public()

    out = await svc.db.write(unit)
    svc.wake_worker()
    return out


def _replans(values: dict[str, Any]) -> bool:
    return bool(set(values) & {"automation_remote_id", "automation_email", "account_secret", "deprovision_policy",
                               "mass_removal_count", "mass_removal_percent"})  # fmt: skip


def _public_subset(record: AppRecord, keys: list[str]) -> dict[str, Any]:
    return {k: getattr(record, k) for k in keys if hasattr(record, k)}


async def remove(svc: Services, who: Principal, app_id: str, reason: str | None = None) -> None:
    """Disconnect the app; ``reason`` (why, for the audit trail) is optional on the API."""
    if reason is not None and len(reason) > 2000:
        raise Invalid("reason is at most 2000 characters.", field="reason")
    def unit(conn: Connection) -> None:
        record = store.delete_app(conn, who.workspace_id, app_id)
        audit(conn, who.workspace_id, who.actor, "app.delete", "App", app_id,
              detail={"kind": record.kind, "label": record.label, "reason": reason})  # fmt: skip

    await svc.db.write(unit)
