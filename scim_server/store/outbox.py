"""Transactional outbox: a directory change (an IdP push) commits, in its own transaction,
a ``reconcile`` job for every app of the workspace. An acknowledged deactivation or deletion
therefore cannot be lost: the job row is as durable as the change, and a worker (this process
or another, now or after a restart) turns it into report entries or removals.

A workspace with no apps pays one precompiled indexed query. Reconcile jobs are deduplicated
while queued (not while running: a running one may have read the directory before this change)
and become due ``debounce_seconds`` later (default 0: at once). A burst of changes (a Bulk
request, an IdP pushing a batch of deactivations) need not be planned as one push: the
mass-removal guard counts removals over a sliding window (``reconcile.GUARD_WINDOW``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select

from scim_server.jobs import queue
from scim_server.store import fastsql, feed
from scim_server.store.app_models import App
from scim_server.store.db import now

apps = App.__table__
# What reconciliation reads of a user (``reconcile.load_directory``): whether it is active, its
# userName and its emails (matching), and its id; group memberships come through group writes.
RECONCILED_USER_ATTRIBUTES = frozenset({"userName", "active", "emails"})
USER_UPDATES = ("scim.user.patch", "scim.user.replace")


def affects_apps(action: str, detail: dict[str, Any] | None) -> bool:
    """Whether a SCIM write can change any app's plan: a user update that changed only
    attributes reconciliation never reads (a title, a phone number, a manager) cannot, and
    queues nothing; anything else (creates, deletes, groups, unknown details) is queued."""
    if action not in USER_UPDATES or detail is None:
        return True
    return bool(set(detail.get("changed") or ()) & RECONCILED_USER_ATTRIBUTES)
APPS_OF_WORKSPACE = fastsql.Statement(select(apps.c.id).where(apps.c.workspace_id == bindparam("ws")))


def directory_changed(conn: Connection, workspace_id: int, actor: str, reason: str,
                      debounce_seconds: float = 0.0, *, user_id: str | None = None,
                      group_id: str | None = None) -> list[str]:  # fmt: skip
    """Queue a reconcile of every app in the workspace; returns the job ids (often none). The
    user or group written goes on the change feed (``store/feed.py``): the job reconciles only
    the slice of each app it can affect."""
    app_ids = [row[0] for row in fastsql.fetchall(conn, APPS_OF_WORKSPACE, {"ws": workspace_id})]
    if not app_ids:
        return []
    feed.record(conn, workspace_id, user_id, group_id)
    due = now() + timedelta(seconds=debounce_seconds)
    return [
        queue.enqueue(conn, workspace_id, "reconcile", {"reason": reason}, app_id=app_id, run_after=due,
                      dedupe_key=f"{app_id}:reconcile", created_by=actor, dedupe_statuses=("queued",))
        for app_id in app_ids
    ]  # fmt: skip
