"""Access evidence: the user access review of an app, as it stands now.

One row per account the last import found in the app (closed accounts are left out): the app,
the account, the directory user it is matched to with their manager and department, the app
role and asset permissions, the reconciliation state, who exempted it and why, when an import
last saw it, and the decision columns of its latest deprovision entry (decided by, decided at,
applied, verified at). Read in pages of members, so a large app streams at constant memory.

Not here yet: the same report at a past instant (``?at=``). The member rows hold current state
only, and imports do not record per-account changes in the trail, so a past state cannot be
reconstructed faithfully; ``at`` is refused rather than answered with today's state.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, select

from scim_server.audit.export import csv_cell
from scim_server.store.app_models import App, AppMember, AppPermission, DeprovisionEntry, DeprovisionReport
from scim_server.store.db import iso_utc
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
           "manager", "department", "app_role", "assets", "state", "exempt_reason", "exempted_by", "exempted_at",
           "last_seen", "decided_by", "decided_at", "applied", "verified_at")  # fmt: skip


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
    remote_ids = [r.remote_id for r in rows]
    grants: dict[str, list[str]] = {}
    for remote_id, asset_id, permission in conn.execute(
        select(permissions.c.remote_id, permissions.c.asset_id, permissions.c.permission)
        .where(permissions.c.app_id == app.id, permissions.c.remote_id.in_(remote_ids))
        .order_by(permissions.c.asset_id)
    ):  # fmt: skip
        grants.setdefault(remote_id, []).append(f"{asset_id}:{permission}")
    decisions: dict[str, Any] = {}
    for entry in conn.execute(
        select(entries.c.member_id, entries.c.status, entries.c.updated, reports.c.applied_by, reports.c.applied)
        .join(reports, and_(reports.c.id == entries.c.report_id), isouter=True)
        .where(entries.c.app_id == app.id, entries.c.member_id.in_([r.id for r in rows]))
        .order_by(entries.c.created)
    ):  # fmt: skip
        decisions[entry.member_id] = entry  # the latest entry per member wins
    out = []
    for r in rows:
        manager, department = _directory(r.doc)
        decision = decisions.get(r.id)
        out.append({
            "app_id": app.id, "app": app.label, "account_id": r.remote_id, "account_email": r.email,
            "account_name": r.display_name or r.username, "directory_user_id": r.user_id, "directory_user": r.user_name,
            "manager": manager, "department": department, "app_role": r.app_role,
            "assets": grants.get(r.remote_id, []), "state": r.state, "exempt_reason": r.exempt_reason,
            "exempted_by": r.exempted_by, "exempted_at": iso_utc(r.exempted_at), "last_seen": iso_utc(r.last_seen),
            "decided_by": decision.applied_by if decision is not None else None,
            "decided_at": iso_utc(decision.applied) if decision is not None else None,
            "applied": decision.status if decision is not None else None,
            "verified_at": iso_utc(decision.updated) if decision is not None and decision.status == "removed" else None,
            "member_id": r.id,
        })  # fmt: skip
    return out


def rows(read: Callable[[Callable[[Connection], list[dict[str, Any]]]], list[dict[str, Any]]],
         app: AppRef) -> Iterator[dict[str, Any]]:  # fmt: skip
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
