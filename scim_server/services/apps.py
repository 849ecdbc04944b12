"""Apps: the catalog, connect (the credentials are checked against the app before anything is
saved), list, read, configure, remove. Each write commits its change and its audit event together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from connectors import registry
from connectors.errors import AuthError, ConnectorError, PermissionDenied, RetryableError
from connectors.registry import CATALOG, UnknownKind, get_spec
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
T = TypeVar("T")


def catalog_entry(kind: str) -> dict[str, Any]:
    """One kind as the catalog describes it (an unknown kind is a 400 naming ``kind``)."""
    _spec(kind)
    return dict(registry.describe(kind))


def catalog() -> list[dict[str, Any]]:
    """Every kind as the catalog describes it: capabilities, login methods (and the default), the
    automation account's fields, roles."""
    return [catalog_entry(kind) for kind in CATALOG]


def _spec(kind: str) -> Any:
    try:
        return get_spec(kind)
    except UnknownKind:
        raise Invalid(f"Unknown app kind {kind!r}; see the catalog.", field="kind") from None


def _catalog_checked(fn: Callable[[], T]) -> T:
    """Run a ``connectors.registry`` check; its error names the field to blame."""
    try:
        return fn()
    except registry.CatalogError as exc:
        raise Invalid(f"{exc.field}: {exc.message}", field=exc.field) from None


def _login_method(kind: str, method: str | None) -> str:
    """``method`` if the kind's members may sign in that way; None: the kind's default."""
    return _catalog_checked(lambda: registry.check_login_method(kind, method))


def _account_fields(kind: str, account: dict[str, str]) -> dict[str, str]:
    """The kind's own automation account fields, as the catalog says."""
    return _catalog_checked(lambda: dict(registry.validate_credentials(kind, account)))


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


def account_view(record: AppRecord) -> dict[str, Any]:
    """An automation account as pickers show it: which app uses it, its label, the names of its
    fields and whom it signs in as; never a value."""
    label = record.account_label or record.automation_email or f"The account of {record.label}"
    return {"app_id": record.id, "app_label": record.label, "label": label, "fields": list(record.account_fields),
            "email": record.automation_email}  # fmt: skip


async def automation_accounts(svc: Services, who: Principal, kind: str) -> list[dict[str, Any]]:
    """The automation accounts the workspace already uses for ``kind`` (one per app, oldest app
    first), so a new app of that kind can reuse one (``ConnectApp.automation_account_of``)."""
    _spec(kind)

    def unit(conn: Connection) -> list[dict[str, Any]]:
        return [account_view(r) for r in store.list_apps(conn, who.workspace_id, None, 1000) if r.kind == kind]

    return await svc.db.read(unit)


async def _reused_account(svc: Services, who: Principal, body: ConnectApp) -> tuple[dict[str, str], str | None]:
    """The account to connect with, and its label: the body's fields, over those of the app named
    by ``automation_account_of`` (same workspace, same kind; else a 400 on that field)."""
    if body.automation_account_of is None:
        return dict(body.automation_account), body.account_label
    try:
        source = await svc.db.read(lambda conn: store.get_app(conn, who.workspace_id, str(body.automation_account_of)))
    except store.AppNotFound:
        source = None
    if source is None or source.kind != body.kind:
        raise Invalid(f"No {get_spec(body.kind).name} automation account of app {body.automation_account_of!r} "
                      "in this workspace.", field="automation_account_of")  # fmt: skip
    opened = {k: str(v) for k, v in svc.vault.open(source.account_secret).items()}
    return opened | dict(body.automation_account), body.account_label or source.account_label


async def connect(svc: Services, who: Principal, body: ConnectApp) -> dict[str, Any]:
    spec = _spec(body.kind)
    method = _login_method(body.kind, body.login_method)
    if spec.needs_business_id and not body.business_id:
        raise Invalid(f"{spec.name} needs its {spec.business_id_label}.", field="business_id")
    given, account_label = await _reused_account(svc, who, body)
    fields = _account_fields(body.kind, given)
    await svc.db.read(lambda conn: _refuse_duplicate(conn, who.workspace_id, body.kind, body.business_id))
    base = str(body.api_base_url).rstrip("/") if body.api_base_url else None
    account = await _checked_account(body.kind, fields, base, body.business_id)
    values = {
        "kind": body.kind, "label": body.label, "business_id": body.business_id, "login_method": method,
        "account_secret": svc.vault.seal(account), "account_fields": sorted(account), "account_label": account_label,
        "api_base_url": base, "deprovision_policy": body.deprovision_policy, "schedule": body.schedule,
        "mass_removal_count": body.mass_removal_guard.count, "mass_removal_percent": body.mass_removal_guard.percent,
        **_identity(body.automation_identity, account),
    }  # fmt: skip

    def unit(conn: Connection) -> dict[str, Any]:
        _refuse_duplicate(conn, who.workspace_id, body.kind, body.business_id)
        record = store.create_app_row(conn, who.workspace_id, values)
        audit(conn, who.workspace_id, who.actor, "app.connect", "App", record.id,
              detail={"kind": record.kind, "label": record.label, "login_method": method,
                      "account_fields": list(record.account_fields), "account_label": account_label,
                      "account_of": body.automation_account_of})  # fmt: skip
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
        values["login_method"] = _login_method(current.kind, values["login_method"])
    if body.automation_identity is not None:
        values |= _identity(body.automation_identity, {})
    if "api_base_url" in values and values["api_base_url"] is not None:
        values["api_base_url"] = str(values["api_base_url"]).rstrip("/")
    if body.mass_removal_guard is not None:
        values |= {"mass_removal_count": body.mass_removal_guard.count,
                   "mass_removal_percent": body.mass_removal_guard.percent}  # fmt: skip
    if body.automation_account is not None:
        fields = _account_fields(current.kind, body.automation_account)
        base = values.get("api_base_url", current.api_base_url)
        account = await _checked_account(current.kind, fields, base, current.business_id)
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
