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

import orjson
from sqlalchemy import Connection, text

from scim_server.store import fastsql, feed
from scim_server.store.db import now

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

MAX_ATTEMPTS = 8  # as ``jobs.queue.enqueue`` gives a job by default

# One statement queues the reconcile of every app of the workspace, skipping an app whose
# reconcile is already queued (issue 13/14: one statement per SCIM write, whatever the number
# of apps; a workspace with none pays one index probe). A job id is a random UUID made by the
# database: PostgreSQL's gen_random_uuid(); on SQLite random bytes laid out as a version-4 UUID
# (the derived table is flattened, so each piece draws its own random bytes: random all the same).
_COLUMNS = "id, workspace_id, app_id, kind, status, payload, dedupe_key, created_by, max_attempts, attempts, " \
    "progress_done, run_after, created"
_SELECT = (
    " a.workspace_id, a.id, 'reconcile', 'queued', :payload, a.id || '\\:reconcile', :actor, :max_attempts, 0, 0,"
    " :due, :at FROM apps AS a WHERE a.workspace_id = :ws AND NOT EXISTS (SELECT 1 FROM jobs AS j"
    " WHERE j.workspace_id = :ws AND j.dedupe_key = a.id || '\\:reconcile' AND j.status = 'queued')"
)
_SQLITE_UUID = (
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'"
    " || substr('89ab', 1 + abs(random() % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"
)
ENQUEUE_RECONCILES = fastsql.Statement(
    text(f"INSERT INTO jobs ({_COLUMNS}) SELECT {_SQLITE_UUID},{_SELECT}"),
    text(f"INSERT INTO jobs ({_COLUMNS}) SELECT CAST(gen_random_uuid() AS VARCHAR),{_SELECT}"),
)


def directory_changed(conn: Connection, workspace_id: int, actor: str, reason: str,
                      debounce_seconds: float = 0.0, *, user_id: str | None = None,
                      group_id: str | None = None) -> None:  # fmt: skip
    """Queue a reconcile of every app in the workspace (deduplicated while queued), in one
    statement sent with the unit's next round trip (``fastsql.defer``). The user or group
    written goes on the change feed (``store/feed.py``, one more such statement): each job
    reconciles only the slice of its app the change can affect."""
    feed.record(conn, workspace_id, user_id, group_id)
    at = now()
    dialect = conn.dialect.name
    fastsql.defer(conn, ENQUEUE_RECONCILES, {
        "ws": workspace_id, "payload": orjson.dumps({"reason": reason}).decode(), "actor": actor[:100],
        "max_attempts": MAX_ATTEMPTS, "due": fastsql.ts_in(dialect, at + timedelta(seconds=debounce_seconds)),
        "at": fastsql.ts_in(dialect, at),
    })  # fmt: skip
