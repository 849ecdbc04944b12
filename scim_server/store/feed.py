"""The directory change feed: which users and groups SCIM writes changed, in commit order, and how
far each app's reconciliation has read it (``incremental.catch_up``).

A SCIM write that can change a plan appends one row (``record``, in the write's transaction, one
statement whatever the number of apps). A group write also appends one row per user who joined
or left the group (``record_users``, ``record_group_members``: one statement whatever their
number; ``store/groups.py`` calls them), so a membership change reaches those users only. An app's reconcile job reads the rows after its cursor up
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

import asyncio
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, bindparam, delete, func, select, text
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


def _params(conn: Connection, workspace_id: int, **values: object) -> dict[str, object]:
    dialect = conn.dialect.name
    return {"ws": workspace_id, "at": fastsql.ts_in(dialect, now()), **values} | (
        {"lock": FEED_LOCK} if dialect == "postgresql" else {})  # fmt: skip


def record(conn: Connection, workspace_id: int, user_id: str | None = None, group_id: str | None = None) -> None:
    """Append one change (a user or a group written) in the writer's transaction."""
    fastsql.defer(conn, RECORD, _params(conn, workspace_id, user_id=user_id, group_id=group_id))


# A group write's members who joined or left, one row each, in one statement whatever their
# number (``record_users``): SQLite reads the ids from a JSON array, PostgreSQL from an array.
_RECORD_USERS = (
    "INSERT INTO directory_changes (workspace_id, user_id, group_id, created) SELECT :ws, m.value, :group_id, :at"
    " FROM {source} WHERE EXISTS (SELECT 1 FROM apps WHERE apps.workspace_id = :ws)"
)
RECORD_USERS = fastsql.Statement(
    text(_RECORD_USERS.format(source=fastsql.list_relation(fastsql.SQLITE, "ids", "m"))),
    text("WITH feed_lock AS (SELECT pg_advisory_xact_lock_shared(:lock)) "
         + _RECORD_USERS.format(source="feed_lock, " + fastsql.list_relation(fastsql.POSTGRESQL, "ids", "m"))),
)
# A group about to be deleted: each of its user members left it (read before its rows go).
_RECORD_MEMBERS = (
    "INSERT INTO directory_changes (workspace_id, user_id, group_id, created)"
    " SELECT :ws, m.member_id, CAST(:group_id AS VARCHAR), :at"
    " FROM {source}scim_group_members AS m WHERE m.group_id = CAST(:group_id AS VARCHAR) AND m.member_type = 'User'"
    " AND EXISTS (SELECT 1 FROM apps WHERE apps.workspace_id = :ws)"
)
RECORD_MEMBERS = fastsql.Statement(
    text(_RECORD_MEMBERS.format(source="")),
    text("WITH feed_lock AS (SELECT pg_advisory_xact_lock_shared(:lock)) "
         + _RECORD_MEMBERS.format(source="feed_lock, ")),
)


def record_users(conn: Connection, workspace_id: int, user_ids: Iterable[str], group_id: str) -> None:
    """Append one change per user (those that joined or left ``group_id``), in one statement
    deferred like ``record``'s: a group write of any size costs one statement, and each
    app's reconcile job reaches just those users, not the whole app."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    fastsql.defer(conn, RECORD_USERS, _params(conn, workspace_id, ids=fastsql.list_param(conn.dialect.name, ids),
                                               group_id=group_id))  # fmt: skip


def record_group_members(conn: Connection, workspace_id: int, group_id: str) -> None:
    """Append one change per user member of ``group_id`` (it is being deleted: they all left),
    read and written by one statement; call it before the member rows are deleted."""
    fastsql.defer(conn, RECORD_MEMBERS, _params(conn, workspace_id, group_id=group_id))


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


@dataclass
class _Shared:
    """The last horizon this process read for one database, and when its read began."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    value: int | None = None
    began: datetime | None = None


_SHARED: weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Shared]] = (
    weakref.WeakKeyDictionary()
)


async def shared_horizon(db: Any, since: datetime) -> int | None:
    """PostgreSQL: ``horizon`` for a reconcile job whose handler began at ``since`` (after its
    claim committed, so after the write that queued it), read once for the jobs running together:
    any horizon whose read began at or after ``since`` covers every write committed before it. So
    the jobs one SCIM write queues for each app share one read instead of each trying the
    exclusive feed lock while the others hold it (8 concurrent reads: 20-160 ms, measured).
    ``db`` is the ``store.db.Database``; this process's reads of it go one at a time."""
    shared = _SHARED.setdefault(db, weakref.WeakKeyDictionary()).setdefault(asyncio.get_running_loop(), _Shared())
    async with shared.lock:
        if shared.began is not None and shared.began >= since:
            return shared.value
        began = now()
        value: int | None = await db.write(horizon)
        if value is not None:
            shared.value, shared.began = value, began
        return value


class Changes(NamedTuple):
    user_ids: frozenset[str]  # users written
    group_ids: frozenset[str]  # groups written (their members who moved are in ``moved``)
    unknown: bool  # a change naming neither a user nor a group: reconcile the whole app
    moved: frozenset[tuple[str, str]] = frozenset()  # (user, group): joined or left it

    def reaching(self, group_ids: Iterable[str]) -> frozenset[str]:
        """The users an app whose rules name ``group_ids`` must reconcile: those written, and
        those who joined or left one of those groups (a move in another group changes nothing
        the app reads; a rule created or deleted reconciles the whole app anyway)."""
        named = set(group_ids)
        return self.user_ids | {u for u, g in self.moved if g in named}


def changes(conn: Connection, workspace_id: int, after: int, upto: int) -> Changes:
    """The users and groups written in ``(after, upto]``, and the users who moved in groups."""
    rows = conn.execute(
        select(changes_t.c.user_id, changes_t.c.group_id).where(
            changes_t.c.workspace_id == workspace_id, changes_t.c.seq > after, changes_t.c.seq <= upto
        )
    ).all()
    users = frozenset(u for u, g in rows if u is not None and g is None)
    groups = frozenset(g for u, g in rows if g is not None and u is None)
    moved = frozenset((u, g) for u, g in rows if u is not None and g is not None)
    return Changes(users, groups, any(u is None and g is None for u, g in rows), moved)


class AppState(NamedTuple):
    cursor: int
    unsettled: frozenset[str]
    exists: bool


# Every reconcile job of every app reads and writes its state: precompiled (``fastsql``).
STATE = fastsql.Statement(select(state_t.c.cursor, state_t.c.unsettled).where(state_t.c.app_id == bindparam("app")))


def _save_statement(dialect_insert: Any, highest: Any) -> Any:
    stmt = dialect_insert(state_t).values({c: bindparam(c) for c in ("app_id", "workspace_id", "cursor", "unsettled")})
    return stmt.on_conflict_do_update(index_elements=[state_t.c.app_id], set_={
        "unsettled": stmt.excluded.unsettled, "cursor": highest(state_t.c.cursor, stmt.excluded.cursor)})  # fmt: skip


SAVE = fastsql.Statement(_save_statement(sqlite_insert, func.max), _save_statement(pg_insert, func.greatest))


def state(conn: Connection, app_id: str) -> AppState:
    row = fastsql.fetchone(conn, STATE, {"app": app_id})
    if row is None:
        return AppState(0, frozenset(), False)
    cursor, unsettled = row
    return AppState(int(cursor), frozenset(orjson.loads(unsettled or "[]")), True)


def save(conn: Connection, workspace_id: int, app_id: str, current: AppState, cursor: int | None,
         unsettled: Iterable[str]) -> None:  # fmt: skip
    """Store the app's cursor (``None``: unchanged; it never moves back) and unsettled users, in
    one upsert (two first reconciliations of an app racing both write, neither fails)."""
    users = frozenset(unsettled)
    moved = cursor is not None and cursor > current.cursor
    if current.exists and not moved and users == current.unsettled:
        return
    fastsql.execute(conn, SAVE, {"app_id": app_id, "workspace_id": workspace_id, "unsettled": orjson.dumps(sorted(users)).decode(),
                                 "cursor": cursor if moved and cursor is not None else current.cursor})  # fmt: skip


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
