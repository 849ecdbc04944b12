"""The console's read models: what a page shows, built from the store reads (never the vault).

Each function takes a connection and the workspace, so another workspace's ids find nothing
(``AppNotFound`` / ``JobNotFound`` / ``LookupError``: a 404 page). Nothing here decrypts an
automation account: pages show which fields an account has, never their values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, or_, select

from connectors.registry import CATALOG, UnknownKind, capabilities, get_spec
from scim_server import reconcile
from scim_server.jobs import queue
from scim_server.store import apps as app_store
from scim_server.store import members as member_store
from scim_server.store.app_models import AppMember
from scim_server.store.models import AuditEvent, ScimGroup, ScimUser, ScimUserValue

STATES = ("matched", "unmatched", "exempted", "disputed", "removed")
TAB_NAMES = {"matched": "Onboarded users", "unmatched": "Unmatched users", "exempted": "Exempted users",
             "disputed": "Disputed users", "removed": "Removed users"}  # fmt: skip
JOB_STATUS = {"queued": "Queued", "running": "Running", "succeeded": "Completed", "completed": "Completed",
              "failed": "Failed", "cancelled": "Cancelled", "dead": "Failed", "resolved": "Completed"}  # fmt: skip


def kind_name(kind: str) -> str:
    try:
        return get_spec(kind).name
    except UnknownKind:
        return kind


def catalog() -> list[dict[str, Any]]:
    out = []
    for kind in CATALOG:
        spec = get_spec(kind)
        out.append({"kind": kind, "name": spec.name, "capabilities": list(capabilities(spec.cls)),
                    "needs_business_id": spec.needs_business_id, "business_id_label": spec.business_id_label,
                    "login_methods": list(spec.login_methods), "account_fields": list(spec.account_fields)})  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class AppCard:
    app: app_store.AppRecord
    kind_name: str
    counts: dict[str, int]
    pending_report: str | None
    status: str


def _pending_reports(conn: Connection, ws: int) -> dict[str, str]:
    reports = reconcile.reports_t
    rows = conn.execute(select(reports.c.app_id, reports.c.id).where(reports.c.workspace_id == ws,
                                                                      reports.c.status == "pending"))  # fmt: skip
    return {r.app_id: r.id for r in rows}


def app_cards(conn: Connection, ws: int) -> list[AppCard]:
    pending = _pending_reports(conn, ws)
    cards = []
    for app in app_store.list_apps(conn, ws, None, 500):
        jobs = queue.list_jobs(conn, ws, app_id=app.id, limit=1)
        last = jobs[0] if jobs else None
        status = "Never checked" if app.last_check is None else "Connected"
        if last is not None and last.status in ("queued", "running"):
            status = "Checking"
        elif last is not None and last.status == "failed":
            status = "Needs attention"
        cards.append(AppCard(app, kind_name(app.kind), app_store.member_counts(conn, app.id), pending.get(app.id), status))
    return cards


def app_detail(conn: Connection, ws: int, app_id: str) -> AppCard:
    app = app_store.get_app(conn, ws, app_id)
    return AppCard(app, kind_name(app.kind), app_store.member_counts(conn, app.id),
                   _pending_reports(conn, ws).get(app.id), "Connected" if app.last_check else "Never checked")  # fmt: skip


def _user_names(conn: Connection, ws: int, user_ids: set[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    users = ScimUser.__table__
    rows = conn.execute(select(users.c.id, users.c.user_name).where(users.c.workspace_id == ws, users.c.id.in_(user_ids)))
    return {r.id: r.user_name for r in rows}


SORTS = {"name": AppMember.__table__.c.display_name, "email": AppMember.__table__.c.email,
         "role": AppMember.__table__.c.app_role}  # fmt: skip


def members_page(conn: Connection, ws: int, app_id: str, state: str, query: str, sort: str, offset: int,
                 limit: int) -> dict[str, Any]:  # fmt: skip
    """One page of a set, searched and sorted in SQL (a 50,000-member app stays one indexed query)."""
    app_store.get_app(conn, ws, app_id)
    members = AppMember.__table__
    where = [members.c.app_id == app_id]
    where.append(members.c.state == state)
    if state != "removed":
        where.append(members.c.closed.is_(None))
    if query:
        like = f"%{query.lower()}%"
        where.append(or_(func.lower(members.c.email).like(like), func.lower(members.c.display_name).like(like),
                         func.lower(members.c.username).like(like)))  # fmt: skip
    order = SORTS.get(sort, members.c.email)
    rows = list(conn.execute(select(members).where(*where).order_by(order, members.c.id).offset(offset).limit(limit + 1)))
    total = int(conn.execute(select(func.count()).select_from(members).where(*where)).scalar_one())
    perms = member_store.permissions_by_member(conn, app_id) if rows else {}
    names = _user_names(conn, ws, {r.user_id for r in rows if r.user_id})
    items = [{"row": r, "assets": perms.get(r.remote_id, []), "user_name": names.get(r.user_id or "")}
             for r in rows[:limit]]  # fmt: skip
    return {"items": items, "more": len(rows) > limit, "total": total}


def jobs(conn: Connection, ws: int, app_id: str | None = None, limit: int = 100) -> list[queue.JobRecord]:
    return queue.list_jobs(conn, ws, app_id=app_id, limit=limit)


def app_labels(conn: Connection, ws: int) -> dict[str, str]:
    return {a.id: a.label for a in app_store.list_apps(conn, ws, None, 1000)}


def reports(conn: Connection, ws: int) -> list[dict[str, Any]]:
    """Reports newest first, each with its entries and who they are about."""
    reports_t, entries_t = reconcile.reports_t, reconcile.entries_t
    members = AppMember.__table__
    labels = app_labels(conn, ws)
    out = []
    for row in conn.execute(select(reports_t).where(reports_t.c.workspace_id == ws)
                            .order_by(reports_t.c.created.desc()).limit(100)):  # fmt: skip
        entries = list(conn.execute(
            select(entries_t, members.c.email, members.c.display_name, members.c.app_role, members.c.remote_id)
            .outerjoin(members, members.c.id == entries_t.c.member_id)
            .where(entries_t.c.report_id == row.id).order_by(entries_t.c.created)))  # fmt: skip
        names = _user_names(conn, ws, {e.user_id for e in entries if e.user_id})
        perms = member_store.permissions_by_member(conn, row.app_id) if entries else {}
        out.append({"report": row, "app_label": labels.get(row.app_id, row.app_id),
                    "entries": [{"entry": e, "user_name": names.get(e.user_id or ""),
                                 "assets": perms.get(e.remote_id or "", [])} for e in entries]})  # fmt: skip
    return out


def directory_users(conn: Connection, ws: int, query: str, offset: int, limit: int) -> dict[str, Any]:
    users, values = ScimUser.__table__, ScimUserValue.__table__
    where = [users.c.workspace_id == ws]
    if query:
        like = f"%{query.lower()}%"
        emails = select(values.c.user_id).where(values.c.path == "emails.value", func.lower(values.c.value).like(like))
        where.append(or_(func.lower(users.c.user_name).like(like), users.c.id.in_(emails)))
    rows = list(conn.execute(select(users).where(*where).order_by(users.c.user_name).offset(offset).limit(limit + 1)))
    return {"items": rows[:limit], "more": len(rows) > limit}


def directory_groups(conn: Connection, ws: int, limit: int = 200) -> list[Any]:
    groups = ScimGroup.__table__
    return list(conn.execute(select(groups).where(groups.c.workspace_id == ws).order_by(groups.c.display_name).limit(limit)))


def directory_user(conn: Connection, ws: int, user_id: str) -> dict[str, Any]:
    users, values = ScimUser.__table__, ScimUserValue.__table__
    user = conn.execute(select(users).where(users.c.workspace_id == ws, users.c.id == user_id)).first()
    if user is None:
        raise LookupError(user_id)
    emails = [v for (v,) in conn.execute(select(values.c.value).where(values.c.user_id == user_id,
                                                                       values.c.path == "emails.value"))]  # fmt: skip
    members = AppMember.__table__
    labels = app_labels(conn, ws)
    accounts = []
    for m in conn.execute(select(members).where(members.c.user_id == user_id, members.c.closed.is_(None))):
        if m.app_id not in labels:
            continue
        perms = member_store.permissions_by_member(conn, m.app_id).get(m.remote_id, [])
        accounts.append({"row": m, "app_label": labels[m.app_id], "assets": perms})
    return {"user": user, "emails": emails, "accounts": accounts}


def audit_events(conn: Connection, ws: int, limit: int = 200) -> list[Any]:
    events = AuditEvent.__table__
    return list(conn.execute(select(events).where(events.c.workspace_id == ws).order_by(events.c.id.desc()).limit(limit)))
