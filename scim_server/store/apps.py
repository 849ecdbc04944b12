"""Connected apps: rows, and the public view of one (never its secrets)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, or_, select, update

from scim_server.store import paging
from scim_server.store.app_models import App, AppMember
from scim_server.store.db import iso_utc, new_id, now

apps = App.__table__
app_members = AppMember.__table__


class AppNotFound(LookupError):
    """No app with that id in the workspace (never there, or deleted meanwhile): a 404 on every
    face (``scim_server/errors.py``)."""


@dataclass(frozen=True, slots=True)
class AppRecord:
    id: str
    workspace_id: int
    kind: str
    label: str
    business_id: str | None
    login_method: str
    account_secret: str
    account_fields: tuple[str, ...]
    api_base_url: str | None
    deprovision_policy: str
    schedule: str
    mass_removal_count: int
    mass_removal_percent: int
    automation_remote_id: str | None
    automation_email: str | None
    last_check: datetime | None
    next_check: datetime | None
    created: datetime
    updated: datetime
    account_label: str | None = None

    def public(self, counts: dict[str, int] | None = None) -> dict[str, Any]:
        """What the API returns: the account's field names, never their values."""
        return {
            "id": self.id, "kind": self.kind, "label": self.label, "business_id": self.business_id,
            "login_method": self.login_method, "automation_account": {"fields": list(self.account_fields),
                                   **({"label": self.account_label} if self.account_label else {})},
            "api_base_url": self.api_base_url, "deprovision_policy": self.deprovision_policy,
            "schedule": self.schedule,
            "mass_removal_guard": {"count": self.mass_removal_count, "percent": self.mass_removal_percent},
            "automation_identity": {"remote_id": self.automation_remote_id, "email": self.automation_email},
            "last_check": iso_utc(self.last_check), "next_check": iso_utc(self.next_check),
            "created": iso_utc(self.created), "updated": iso_utc(self.updated),
            **({"member_counts": counts} if counts is not None else {}),
        }  # fmt: skip


def _record(row: Any) -> AppRecord:
    values = dict(row._mapping)
    values["account_fields"] = tuple(orjson.loads(values["account_fields"]))
    return AppRecord(**values)


def create_app_row(conn: Connection, workspace_id: int, values: dict[str, Any]) -> AppRecord:
    at = now()
    row = values | {"id": new_id(), "workspace_id": workspace_id, "created": at, "updated": at,
                    "account_fields": orjson.dumps(list(values["account_fields"])).decode()}  # fmt: skip
    conn.execute(insert(apps).values(row))
    return get_app(conn, workspace_id, row["id"])


def get_app(conn: Connection, workspace_id: int, app_id: str) -> AppRecord:
    row = conn.execute(select(apps).where(apps.c.workspace_id == workspace_id, apps.c.id == app_id)).first()
    if row is None:
        raise AppNotFound(app_id)
    return _record(row)


def list_apps(conn: Connection, workspace_id: int, after: tuple[datetime, str] | None, limit: int) -> list[AppRecord]:
    """Up to ``limit`` apps, oldest first; ``after``: the (created, id) of the last one already sent."""
    query = paging.window(select(apps).where(apps.c.workspace_id == workspace_id), (apps.c.created, apps.c.id), after, limit)
    return [_record(r) for r in conn.execute(query)]


def update_app(conn: Connection, workspace_id: int, app_id: str, values: dict[str, Any]) -> AppRecord:
    get_app(conn, workspace_id, app_id)
    if "account_fields" in values:
        values = values | {"account_fields": orjson.dumps(list(values["account_fields"])).decode()}
    conn.execute(update(apps).where(apps.c.id == app_id).values(values | {"updated": now()}))
    return get_app(conn, workspace_id, app_id)


def delete_app(conn: Connection, workspace_id: int, app_id: str) -> AppRecord:
    record = get_app(conn, workspace_id, app_id)
    conn.execute(delete(apps).where(apps.c.id == app_id))
    return record


def member_counts(conn: Connection, app_id: str) -> dict[str, int]:
    """How many members the app has in each state (``removed`` counts the closed ones)."""
    return member_counts_of(conn, [app_id])[app_id]


def due_for_check(conn: Connection, at: datetime, limit: int = 100) -> list[AppRecord]:
    query = select(apps).where(or_(apps.c.next_check.is_(None), apps.c.next_check <= at)).limit(limit)
    return [_record(r) for r in conn.execute(query)]


def find_by_business_id(conn: Connection, workspace_id: int, kind: str, business_id: str) -> AppRecord | None:
    """The app of ``kind`` already connected to that business/org in the workspace, if any."""
    row = conn.execute(select(apps).where(apps.c.workspace_id == workspace_id, apps.c.kind == kind,
                                          apps.c.business_id == business_id)).first()  # fmt: skip
    return None if row is None else _record(row)


def member_counts_of(conn: Connection, app_ids: list[str]) -> dict[str, dict[str, int]]:
    """``member_counts`` for many apps in one query (an app list page)."""
    if not app_ids:
        return {}
    query = (select(app_members.c.app_id, app_members.c.state, func.count())
             .where(app_members.c.app_id.in_(app_ids))
             .group_by(app_members.c.app_id, app_members.c.state))  # fmt: skip
    counts: dict[str, dict[str, int]] = {app_id: {} for app_id in app_ids}
    for app_id, state, n in conn.execute(query):
        counts[app_id][state] = int(n)
    return counts
