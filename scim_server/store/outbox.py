"""Transactional outbox: a directory change (an IdP push) commits, in its own transaction,
a ``reconcile`` job for every app of the workspace. An acknowledged deactivation or deletion
therefore cannot be lost: the job row is as durable as the change, and a worker (this process
or another, now or after a restart) turns it into report entries or removals.

A workspace with no apps pays one indexed query. Reconcile jobs are deduplicated while queued
(not while running: a running one may have read the directory before this change).
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from scim_server.jobs import queue
from scim_server.store.app_models import App

apps = App.__table__


def directory_changed(conn: Connection, workspace_id: int, actor: str, reason: str) -> list[str]:
    """Queue a reconcile of every app in the workspace; returns the job ids (often none)."""
    app_ids = list(conn.execute(select(apps.c.id).where(apps.c.workspace_id == workspace_id)).scalars())
    return [
        queue.enqueue(conn, workspace_id, "reconcile", {"reason": reason}, app_id=app_id,
                      dedupe_key=f"{app_id}:reconcile", created_by=actor, dedupe_statuses=("queued",))
        for app_id in app_ids
    ]  # fmt: skip
