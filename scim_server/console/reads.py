"""The console's read models: what a page shows, built from the store reads (never the vault).

Each function takes a connection and the workspace, so another workspace's ids find nothing
(``AppNotFound`` / ``JobNotFound`` / ``LookupError``: a 404 page). Nothing here decrypts an
automation account: pages show which fields an account has, never their values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from connectors.registry import UnknownKind, get_spec
from scim_server.jobs import queue
from scim_server.store import apps as app_store
from scim_server.store import reports as report_store
from scim_server.store.models import ScimGroup

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


@dataclass(frozen=True, slots=True)
class AppCard:
    app: app_store.AppRecord
    kind_name: str
    counts: dict[str, int]
    pending_report: str | None
    status: str


def _pending_reports(conn: Connection, ws: int) -> dict[str, str]:
    return {r.app_id: r.id for r in report_store.list_reports(conn, ws, None, "pending", None, 1000)}


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


def app_labels(conn: Connection, ws: int) -> dict[str, str]:
    return {a.id: a.label for a in app_store.list_apps(conn, ws, None, 1000)}


def directory_groups(conn: Connection, ws: int, limit: int = 200) -> list[Any]:
    groups = ScimGroup.__table__
    return list(conn.execute(select(groups).where(groups.c.workspace_id == ws).order_by(groups.c.display_name).limit(limit)))
