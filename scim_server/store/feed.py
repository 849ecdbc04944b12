"""The directory change feed: which users and groups SCIM writes changed, in commit order, and how
far each app's reconciliation has read it (``reconcile.catch_up``).

A SCIM write that can change a plan appends one row (``record``, in the write's transaction, one
statement whatever the number of apps). An app's reconcile job reads the rows after its cursor up
to the *horizon* and reconciles only the slice they reach, then moves its cursor there. Rows are
pruned once every app of their workspace has read them.

The horizon is the highest sequence number below which no write is still in flight, so a change
can never be skipped by a cursor that moved past it before it committed:

- SQLite: one writer at a time, so inside a write transaction every smaller number is committed;
- PostgreSQL: numbers are taken in one order and committed in another. Writers hold a shared
  advisory lock from their entry until they commit; ``horizon`` takes it exclusively (tried until
  no writer is in flight, a few milliseconds) in its own transaction before reading the maximum.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import NamedTuple

import orjson
from sqlalchemy import Connection, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from scim_server.store import fastsql
from scim_server.store.app_models import App
from scim_server.store.db import now
from scim_server.store.feed_models import AppReconcileState, DirectoryChange

FEED_LOCK = 0x5C1B_0003
changes_t = DirectoryChange.__table__
state_t = AppReconcileState.__table__
apps_t = App.__table__


# One statement, deferred with the unit's next round trip (``fastsql.defer``): nothing when the
# workspace has no app; on PostgreSQL it takes the feed lock (shared) before the row gets its number.
_RECORD = (
    "INSERT INTO directory_changes (workspace_id, user_id, group_id, created) SELECT :ws, :user_id, :group_id, :at"
    " {source} WHERE EXISTS (SELECT 1 FROM apps WHERE apps.workspace_id = :ws)"
)
RECORD = fastsql.Statement(
    text(_RECORD.format(source="")),
    text("WITH feed_lock AS (SELECT pg_advisory_xact_lock_shared(:lock)) " + _RECORD.format(source="FROM feed_lock")),
)


def record(conn: Connection, workspace_id: int, user_id: str | None = None, group_id: str | None = None) -> None:
    """Append one change (a user or a group written) in the writer's transaction."""
    dialect = conn.dialect.name
    params = {"ws": workspace_id, "user_id": user_id, "group_id": group_id, "at": fastsql.ts_in(dialect, now())}
    fastsql.defer(conn, RECORD, params | ({"lock": FEED_LOCK} if dialect == "postgresql" else {}))


def horizon(conn: Connection) -> int | None:
    """The feed's horizon (module docstring); ``None`` when PostgreSQL writers kept the feed lock
    for a whole second (the caller reads nothing now: those writers queue a job that will). On
    PostgreSQL call it in a transaction of its own, committed before the changes are read.

    The lock is *tried*, never waited for: a waiting exclusive request would queue every new
    writer behind it, and a writer that already holds a row lock another writer needs could close
    a cycle (a deadlock)."""
    if conn.dialect.name == "postgresql":
        deadline, pause = time.monotonic() + 1.0, 0.002
        while not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FEED_LOCK}).scalar():
            if time.monotonic() > deadline:
                return None
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
    return int(conn.execute(select(func.max(changes_t.c.seq))).scalar() or 0)


class Changes(NamedTuple):
    user_ids: frozenset[str]
    group_ids: frozenset[str]
    unknown: bool  # a change naming neither a user nor a group: reconcile the whole app


def changes(conn: Connection, workspace_id: int, after: int, upto: int) -> Changes:
    """The users and groups written in ``(after, upto]``."""
    rows = conn.execute(
        select(changes_t.c.user_id, changes_t.c.group_id).where(
            changes_t.c.workspace_id == workspace_id, changes_t.c.seq > after, changes_t.c.seq <= upto
        )
    ).all()
    users = frozenset(u for u, _ in rows if u is not None)
    groups = frozenset(g for _, g in rows if g is not None)
    return Changes(users, groups, any(u is None and g is None for u, g in rows))


class AppState(NamedTuple):
    cursor: int
    unsettled: frozenset[str]
    exists: bool


def state(conn: Connection, app_id: str) -> AppState:
    row = conn.execute(
        select(state_t.c.cursor, state_t.c.unsettled).where(state_t.c.app_id == app_id)
    ).first()
    if row is None:
        return AppState(0, frozenset(), False)
    return AppState(int(row.cursor), frozenset(orjson.loads(row.unsettled or "[]")), True)


def save(conn: Connection, workspace_id: int, app_id: str, current: AppState, cursor: int | None,
         unsettled: Iterable[str]) -> None:  # fmt: skip
    """Store the app's cursor (``None``: unchanged; it never moves back) and unsettled users, in
    one upsert (two first reconciliations of an app racing both write, neither fails)."""
    users = frozenset(unsettled)
    moved = cursor is not None and cursor > current.cursor
    if current.exists and not moved and users == current.unsettled:
        return
    text_users = orjson.dumps(sorted(users)).decode()
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = dialect_insert(state_t).values(app_id=app_id, workspace_id=workspace_id,
                                          cursor=cursor if moved else current.cursor, unsettled=text_users)  # fmt: skip
    highest = func.greatest if conn.dialect.name == "postgresql" else func.max
    conn.execute(stmt.on_conflict_do_update(index_elements=[state_t.c.app_id], set_={
        "unsettled": stmt.excluded.unsettled, "cursor": highest(state_t.c.cursor, stmt.excluded.cursor)}))  # fmt: skip


def prune(conn: Connection) -> int:
    """Delete the rows every app of their workspace has read (a workspace without apps has no
    reader: its rows go). Returns how many."""
    floor = (
        select(func.min(func.coalesce(state_t.c.cursor, 0)))
        .select_from(apps_t.outerjoin(state_t, state_t.c.app_id == apps_t.c.id))
        .where(apps_t.c.workspace_id == changes_t.c.workspace_id)
        .scalar_subquery()
    )
    result = conn.execute(delete(changes_t).where((floor.is_(None)) | (changes_t.c.seq <= floor)))
    return int(result.rowcount or 0)
