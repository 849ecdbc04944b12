"""Access evidence: the user access review of an app, as it stands now (and the row shape the
point-in-time report, ``history.py``, shares).

One row per account the last import found in the app (closed accounts are left out): the app,
the account, the directory user it is matched to with their manager and department, the app
role and asset permissions, the reconciliation state, who exempted it and why, when an import
last saw it, and the decision columns of its latest deprovision entry (decided by, decided at,
applied, verified at). Read in pages of members, so a large app streams at constant memory.

The same report at a past instant (``?at=``) is ``history.rows_at``: it replays the access
history the database triggers keep, since the member rows hold the current state only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, select

from scim_server.audit.export import csv_cell
from scim_server.store.app_models import App, AppMember, AppPermission, DeprovisionEntry, DeprovisionReport
from scim_server.store.db import iso_utc
from scim_server.store.fastsql import ts_out
from scim_server.store.models import ScimUser

apps = App.__table__
members = AppMember.__table__
permissions = AppPermission.__table__
entries = DeprovisionEntry.__table__
reports = DeprovisionReport.__table__
users = ScimUser.__table__
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PAGE = 1000
COLUMNS = ("app_id", "app", "account_id", "account_email", "account_name", "directory_user_id", "directory_user",
           "manager", "department", "app_role", "assets", "state", "match_source", "bridge_role", "exempt_reason",
           "exempted_by", "exempted_at", "last_seen", "decided_by", "decided_at", "applied", "verified_at")  # fmt: skip


class UnknownApp(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class AppRef:
    id: str
    label: str


def app_ref(conn: Connection, workspace_id: int, app_id: str) -> AppRef:
    row = conn.execute(select(apps.c.id, apps.c.label).where(apps.c.id == app_id, apps.c.workspace_id == workspace_id)).first()
    if row is None:
        raise UnknownApp(app_id)
    return AppRef(str(row[0]), str(row[1]))


def _directory(doc: str | None) -> tuple[str | None, str | None]:
    """(manager, department) from a user's SCIM document."""
    if not doc:
        return None, None
    ext = orjson.loads(doc).get(ENTERPRISE) or {}
    manager = ext.get("manager")
    name = (manager.get("displayName") or manager.get("value")) if isinstance(manager, dict) else manager
    return (str(name) if name else None), ext.get("department")


def _grants(conn: Connection, app_id: str, remote_ids: list[str]) -> dict[str, list[str]]:
    grants: dict[str, list[str]] = {}
    for remote_id, asset_id, permission in conn.execute(
        select(permissions.c.remote_id, permissions.c.asset_id, permissions.c.permission)
        .where(permissions.c.app_id == app_id, permissions.c.remote_id.in_(remote_ids))
        .order_by(permissions.c.asset_id)
    ):  # fmt: skip
        grants.setdefault(remote_id, []).append(f"{asset_id}:{permission}")
    return grants


def decisions(conn: Connection, app_id: str, member_ids: list[str], at: datetime | None = None) -> dict[str, dict[str, Any]]:
    """The decision columns of each member's latest deprovision entry (as they stood at ``at``:
    an entry reported later is left out, a decision or an outcome recorded later is blank)."""
    query = (
        select(entries.c.member_id, entries.c.status, entries.c.updated, entries.c.decided_by, entries.c.decided_at,
               entries.c.created, reports.c.applied_by, reports.c.applied)
        .join(reports, and_(reports.c.id == entries.c.report_id), isouter=True)
        .where(entries.c.app_id == app_id, entries.c.member_id.in_(member_ids))
        .order_by(entries.c.created, entries.c.id)
    )  # fmt: skip
    if at is not None:
        query = query.where(entries.c.created <= at)
    out: dict[str, dict[str, Any]] = {}
    for e in conn.execute(query):  # the latest entry per member wins
        decided_at = e.decided_at or e.applied
        known = at is None or (decided_at is not None and ts_out(decided_at) <= at)
        settled = at is None or ts_out(e.updated) <= at
        out[e.member_id] = {
            "decided_by": (e.decided_by or e.applied_by) if known else None,
            "decided_at": iso_utc(decided_at) if known else None,
            "applied": e.status if settled else "pending",
            "verified_at": iso_utc(e.updated) if settled and e.status == "removed" else None,
        }
    return out


def review_row(app: AppRef, r: Any, member_id: str, grants: dict[str, list[str]],
               decision: dict[str, Any] | None, last_seen: Any) -> dict[str, Any]:  # fmt: skip
    """One row of the review from a member (or member history) row joined to its directory user."""
    manager, department = _directory(r.doc)
    decision = decision or {}
    return {
        "app_id": app.id, "app": app.label, "account_id": r.remote_id, "account_email": r.email,
        "account_name": r.display_name or r.username, "directory_user_id": r.user_id, "directory_user": r.user_name,
        "manager": manager, "department": department, "app_role": r.app_role,
        "assets": grants.get(r.remote_id, []), "state": r.state, "match_source": r.match_source,
        "bridge_role": r.bridge_role, "exempt_reason": r.exempt_reason, "exempted_by": r.exempted_by,
        "exempted_at": iso_utc(r.exempted_at), "last_seen": iso_utc(last_seen),
        "decided_by": decision.get("decided_by"), "decided_at": decision.get("decided_at"),
        "applied": decision.get("applied"), "verified_at": decision.get("verified_at"), "member_id": member_id,
    }  # fmt: skip


def page(conn: Connection, app: AppRef, after: str | None, limit: int = PAGE) -> list[dict[str, Any]]:
    """Up to ``limit`` rows of the review, ordered by member id, after member ``after``."""
    query = (
        select(members, users.c.user_name, users.c.doc)
        .join(users, users.c.id == members.c.user_id, isouter=True)
        .where(members.c.app_id == app.id, members.c.closed.is_(None))
        .order_by(members.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(members.c.id > after)
    rows = conn.execute(query).all()
    if not rows:
        return []
    grants = _grants(conn, app.id, [r.remote_id for r in rows])
    decided = decisions(conn, app.id, [r.id for r in rows])
    return [review_row(app, r, r.id, grants, decided.get(r.id), r.last_seen) for r in rows]


Read = Callable[[Callable[[Connection], Any]], Any]  # ``Database.read_sync``


def rows(read: Read, app: AppRef) -> Iterator[dict[str, Any]]:
    """Every row of the review, one page in memory at a time."""
    after: str | None = None
    while True:
        batch = read(lambda conn, at=after: page(conn, app, at))  # type: ignore[misc]
        yield from batch
        if len(batch) < PAGE:
            return
        after = batch[-1]["member_id"]


def csv_lines(items: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """The review as CSV (formula characters neutralised), a header then a chunk per page."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for n, item in enumerate(items, 1):
        writer.writerow([csv_cell(";".join(v) if isinstance(v, list) else (None if v is None else str(v)))
                         for v in (item[k] for k in COLUMNS)])  # fmt: skip
        if n % PAGE == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()
