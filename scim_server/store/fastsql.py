"""Hot statements, written once with SQLAlchemy Core and run on the raw DBAPI cursor.

Building a ``select()``, computing its cache key and going through SQLAlchemy's execution
layer costs ~0.2-0.4 ms per statement in CPython, against ~10 µs for SQLite to answer a point
query. The SCIM hot paths (get, filter, create, patch, delete, member changes, token lookup,
audit) therefore use the statements below: each is a Core construct built at import, compiled
once per dialect to its SQL text, and executed on the DBAPI connection under the caller's
SQLAlchemy ``Connection`` — so inside the caller's transaction and savepoints, with the same
locks and the same durability. Rows come back as plain tuples.

Dialect differences stay here: the bind style (sqlite3 ``:name``, psycopg ``%(name)s``; both
take a dict of parameters) and how a ``DateTime`` travels (SQLAlchemy's SQLite storage format
``YYYY-MM-DD HH:MM:SS.ffffff`` as text, aware datetimes on PostgreSQL). Use ``ts_in``/``ts_out``
for every timestamp so that rows written here and rows written through SQLAlchemy agree.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, case, delete, func, insert, literal_column, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import BindParameter

from scim_server.store.db import driver_connection, pending, pipeline
from scim_server.store.models import (
    ApiToken,
    AuditEvent,
    ScimGroup,
    ScimGroupBump,
    ScimGroupMember,
    ScimUser,
    ScimUserValue,
    TokenEpoch,
    Workspace,
)

users = ScimUser.__table__
user_values = ScimUserValue.__table__
groups = ScimGroup.__table__
bumps = ScimGroupBump.__table__
members = ScimGroupMember.__table__
tokens = ApiToken.__table__
token_epoch = TokenEpoch.__table__
workspaces = Workspace.__table__
audit_events = AuditEvent.__table__

SQLITE, POSTGRESQL = "sqlite", "postgresql"
_DIALECTS = {
    SQLITE: sqlite.dialect(paramstyle="named"),
    POSTGRESQL: postgresql.psycopg.dialect(),  # type: ignore[no-untyped-call]  # SQLAlchemy leaves its __init__ unannotated
}


class Statement:
    """A Core statement and its SQL text per dialect (compiled on first use, then kept).

    ``postgresql`` overrides the construct on that dialect, for the few statements that are
    dialect-specific in Core (``INSERT ... ON CONFLICT DO NOTHING``). Every bound value must be
    a named ``bindparam`` the caller passes: a literal that would compile to a hidden
    parameter is refused at compile time.
    """

    __slots__ = ("__weakref__", "_sql", "clauses")

    def __init__(self, clause: ClauseElement, postgresql: ClauseElement | None = None) -> None:
        self.clauses = {SQLITE: clause, POSTGRESQL: postgresql if postgresql is not None else clause}
        self._sql: dict[str, str] = {}
        _EVERY_STATEMENT.add(self)

    def sql(self, dialect: str) -> str:
        text = self._sql.get(dialect)
        if text is None:
            compiled = self.clauses[dialect].compile(dialect=_DIALECTS[dialect])
            hidden = [name for name, value in compiled.params.items() if value is not None]
            if hidden:
                raise ValueError(f"literal values compile to hidden parameters {hidden}")
            text = self._sql[dialect] = str(compiled)
        return text


_EVERY_STATEMENT: weakref.WeakSet[Statement] = weakref.WeakSet()


def compile_all(dialect: str) -> None:
    """Compile every statement built so far for ``dialect``.

    Called once at start-up: compiling costs ~0.1-1 ms a statement, which the first request
    of each kind would otherwise pay (the group phases of the load client are 40 requests of
    about a millisecond: a cold start showed as a tenth of their time)."""
    for statement in list(_EVERY_STATEMENT):
        statement.sql(dialect)


def cursor(conn: Connection) -> Any:
    """A DBAPI cursor on the connection ``conn`` holds, in its current transaction."""
    return driver_connection(conn).cursor()


def _run(conn: Connection, stmt: Statement, params: Mapping[str, Any]) -> Any:
    """A cursor that ran ``stmt``: on PostgreSQL in a write unit, with the statements queued
    before it and the transaction's BEGIN in the same round trip (``db.pipeline``)."""
    cur = cursor(conn)
    if pending(conn) is None:
        cur.execute(stmt.sql(conn.dialect.name), params)
    else:
        pipeline(conn, stmt.sql(POSTGRESQL), params, cur)
    return cur


def command(conn: Connection, text: str, *, later: bool = False) -> None:
    """A transaction-control statement (``SAVEPOINT``...): after the queued statements, so it
    takes effect where the program issues it; ``later`` queues it (``defer``)."""
    queued = pending(conn)
    if queued is None:
        cursor(conn).execute(text)
    elif later:
        queued.append((text, None))
    else:
        pipeline(conn, text)


def defer(conn: Connection, stmt: Statement, params: Mapping[str, Any]) -> None:
    """Run a write whose result nobody reads and that nothing a client sends can make fail:
    on PostgreSQL inside a ``Database.write`` unit it goes with the unit's next round trip (see
    ``db.pipeline``), elsewhere it runs now."""
    queued = pending(conn)
    if queued is None:
        execute(conn, stmt, params)
    else:
        queued.append((stmt.sql(POSTGRESQL), params))


def fetchone(conn: Connection, stmt: Statement, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
    cur = _run(conn, stmt, params)
    row: tuple[Any, ...] | None = cur.fetchone()
    cur.close()
    return row


def fetchall(conn: Connection, stmt: Statement, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    cur = _run(conn, stmt, params)
    rows: list[tuple[Any, ...]] = cur.fetchall()
    cur.close()
    return rows


def execute(conn: Connection, stmt: Statement, params: Mapping[str, Any]) -> int:
    """Run a write; returns the number of rows it touched."""
    cur = _run(conn, stmt, params)
    count = cur.rowcount
    cur.close()
    return int(count)


def executemany(conn: Connection, stmt: Statement, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    if pending(conn):
        pipeline(conn)
    cur = cursor(conn)
    cur.executemany(stmt.sql(conn.dialect.name), rows)
    cur.close()


# ------------------------------------------------------------------------------ multi-row writes
# psycopg's executemany runs a pipeline (~200 µs of CPU for 9 rows here); one statement over
# arrays costs ~40 µs. SQLite's executemany is a C loop over one prepared statement: kept.

_VALUE_ARRAYS = Statement(text(
    "INSERT INTO scim_user_values (user_id, workspace_id, path, elem, value, value_ci, value_num) "
    "SELECT :user_id, :workspace_id, t.path, t.elem, t.value, t.value_ci, t.value_num "
    "FROM unnest(CAST(:path AS TEXT[]), CAST(:elem AS INTEGER[]), CAST(:value AS TEXT[]), "
    "CAST(:value_ci AS TEXT[]), CAST(:value_num AS FLOAT8[])) AS t(path, elem, value, value_ci, value_num)"
))
_MEMBER_ARRAYS = Statement(text(
    "INSERT INTO scim_group_members (group_id, member_id, workspace_id, member_type) "
    "SELECT :group_id, t.member_id, :workspace_id, t.member_type "
    "FROM unnest(CAST(:member_id AS VARCHAR[]), CAST(:member_type AS VARCHAR[])) AS t(member_id, member_type) "
    "ON CONFLICT DO NOTHING"
))
_DELETE_MEMBER_ARRAY = Statement(text(
    "DELETE FROM scim_group_members WHERE group_id = :id AND member_id = ANY(CAST(:member_id AS VARCHAR[]))"
))


def _arrays(rows: Sequence[Mapping[str, Any]], shared: tuple[str, ...]) -> dict[str, Any]:
    """Rows sharing the ``shared`` columns as one parameter set: those once, the rest as lists."""
    params: dict[str, Any] = {name: rows[0][name] for name in shared}
    for name in rows[0]:
        if name not in shared:
            params[name] = [row[name] for row in rows]
    return params


def insert_values(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """``scim_user_values`` rows of one user (``values.user_value_rows``)."""
    if not rows:
        return
    if conn.dialect.name == POSTGRESQL:
        defer(conn, _VALUE_ARRAYS, _arrays(rows, ("user_id", "workspace_id")))
    else:
        executemany(conn, INSERT_VALUE, rows)


def insert_members(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Member rows of one group (``INSERT_MEMBER``'s columns); existing members are kept. On
    PostgreSQL deferred: a foreign-key error (the group is gone) is raised by the unit's next
    statement (``groups.patch_group`` catches it around the version bump)."""
    if not rows:
        return
    if conn.dialect.name == POSTGRESQL:
        defer(conn, _MEMBER_ARRAYS, _arrays(rows, ("group_id", "workspace_id")))
    else:
        executemany(conn, INSERT_MEMBER, rows)


def delete_members(conn: Connection, group_id: str, member_ids: Sequence[str]) -> None:
    if not member_ids:
        return
    if conn.dialect.name == POSTGRESQL:
        defer(conn, _DELETE_MEMBER_ARRAY, {"id": group_id, "member_id": list(member_ids)})
    else:
        executemany(conn, DELETE_MEMBER, [{"id": group_id, "member_id": i} for i in member_ids])


def recordset(columns: Sequence[str], types: Mapping[str, str] | None = None) -> str:
    """PostgreSQL: ``json_to_recordset(CAST(:rows AS json)) AS v(<columns>)``, the rows of a
    set-based statement passed as one JSON parameter (``json_rows``). psycopg dumps a text[]
    parameter element by element in Python (~2 µs each: 0.2 s for the 90,000 values of a
    10,000-member import); orjson writes the same rows in milliseconds. Columns are ``text``
    unless ``types`` says otherwise."""
    spec = ", ".join(f"{c} {(types or {}).get(c, 'text')}" for c in columns)
    return f"json_to_recordset(CAST(:rows AS json)) AS v({spec})"


def json_rows(rows: Sequence[Mapping[str, Any]]) -> str:
    """The ``:rows`` parameter of a ``recordset`` statement."""
    return orjson.dumps(rows).decode()


def delete_selected(conn: Connection, table: Any, query: Any) -> dict[int, int]:
    """Delete the rows ``query`` selects (``id``, ``workspace_id``), 500 ids a statement; returns
    the count per workspace (what the pruners audit)."""
    batch = conn.execute(query).all()
    ids = [row.id for row in batch]
    for start in range(0, len(ids), 500):
        conn.execute(delete(table).where(table.c.id.in_(ids[start : start + 500])))
    counts: dict[int, int] = {}
    for row in batch:
        counts[row.workspace_id] = counts.get(row.workspace_id, 0) + 1
    return counts


def integrity_error(conn: Connection) -> type[Exception]:
    """The DBAPI's IntegrityError (what a unique or foreign-key violation raises here)."""
    return conn.dialect.loaded_dbapi.IntegrityError


# ------------------------------------------------------------------------------ timestamps


def ts_in(dialect: str, value: datetime) -> Any:
    """A datetime as SQLAlchemy's ``DateTime`` would bind it (SQLite: its storage format)."""
    if dialect == SQLITE:
        return value.isoformat(" ", "microseconds")[:26]
    return value


def ts_out(value: Any) -> datetime:
    """A stored timestamp as an aware datetime (SQLite keeps UTC text without an offset)."""
    stamp: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------ dynamic IN lists


def in_params(prefix: str, values: Iterable[Any]) -> dict[str, Any]:
    return {f"{prefix}{i}": value for i, value in enumerate(values)}


def _in_list(prefix: str, n: int) -> list[Any]:
    return [bindparam(f"{prefix}{i}") for i in range(n)]


_TYPE_OF_ID = (
    "CASE WHEN EXISTS (SELECT 1 FROM scim_users AS u WHERE u.id = j.value AND u.workspace_id = :ws) THEN 'User' "
    "WHEN EXISTS (SELECT 1 FROM scim_groups AS g WHERE g.id = j.value AND g.workspace_id = :ws) THEN 'Group' END"
)


def list_param(dialect: str, values: Sequence[Any]) -> Any:
    """A list bound as one parameter: a JSON text SQLite reads with ``json_each``, an array on
    PostgreSQL (``unnest``, ``= ANY``); ``list_relation`` reads it in SQL."""
    return orjson.dumps(list(values)).decode() if dialect == SQLITE else list(values)


def list_relation(dialect: str, name: str, alias: str = "j") -> str:
    """The list parameter ``:name`` (``list_param``, of strings) as the relation ``alias(value)``."""
    if dialect == SQLITE:
        return f"json_each(:{name}) AS {alias}"
    return f"unnest(CAST(:{name} AS VARCHAR[])) AS {alias}(value)"


_MEMBER_TYPES = Statement(*(text(f"SELECT j.value, {_TYPE_OF_ID} FROM {list_relation(d, 'ids')}")
                            for d in (SQLITE, POSTGRESQL)))  # fmt: skip


def member_types(conn: Connection, workspace_id: int, ids: Sequence[str]) -> list[tuple[str, str | None]]:
    """Each id with ``'User'``, ``'Group'`` (a user wins) or None (neither, in this workspace).

    One statement over any number of ids, each probed by primary key: SQLite reads them from
    a JSON array (``json_each``), PostgreSQL from an array. An IN list of bound parameters
    cost three times as much in SQLite for 50 ids, and needed chunking."""
    return fetchall(conn, _MEMBER_TYPES, {"ws": workspace_id, "ids": list_param(conn.dialect.name, ids)})


@lru_cache(maxsize=1024)
def groups_of_users(n: int) -> Statement:
    """``(member_id, group id, displayName)`` of ``n`` users' direct groups, in display order."""
    return Statement(
        select(members.c.member_id, groups.c.id, groups.c.display_name)
        .join(groups, groups.c.id == members.c.group_id)
        .where(members.c.workspace_id == bindparam("ws"), members.c.member_id.in_(_in_list("i", n)))
        .order_by(groups.c.display_name_ci, groups.c.id)
    )


@lru_cache(maxsize=1024)
def members_of_groups(n: int) -> Statement:
    return Statement(
        select(members.c.group_id, members.c.member_id, members.c.member_type)
        .where(members.c.group_id.in_(_in_list("i", n)))
        .order_by(members.c.group_id, members.c.member_id)
    )


# ------------------------------------------------------------------------------ row locks

# A bulk chunk's resources, locked in one order (users, then groups; each by id) before its
# operations run, as each operation will lock them: FOR UPDATE for a user, as the user's own
# read does, FOR NO KEY UPDATE for a group, as its UPDATE does (so a member insert's foreign-key
# check elsewhere does not wait on it). PostgreSQL only (SQLite has one writer).
_LOCK_ORDERED = "SELECT id FROM {table} WHERE workspace_id = %(ws)s AND id = ANY(%(ids)s) ORDER BY id FOR {mode}"
LOCK_USERS = _LOCK_ORDERED.format(table="scim_users", mode="UPDATE")
LOCK_GROUPS = _LOCK_ORDERED.format(table="scim_groups", mode="NO KEY UPDATE")


def lock_in_order(conn: Connection, workspace_id: int, user_ids: Iterable[str], group_ids: Iterable[str]) -> None:
    """Lock these users and groups in one global order, so that two transactions that each
    change several of them wait for one another instead of deadlocking (which PostgreSQL
    detects only after ``deadlock_timeout``, a second). Queued with the unit's next round trip."""
    if conn.dialect.name != POSTGRESQL:
        return
    queued = pending(conn)
    for text_, ids in ((LOCK_USERS, user_ids), (LOCK_GROUPS, group_ids)):
        params = {"ws": workspace_id, "ids": sorted(set(ids))}
        if not params["ids"]:
            continue
        if queued is None:
            cursor(conn).execute(text_, params)
        else:
            queued.append((text_, params))


# ------------------------------------------------------------------------------ users

_WS: BindParameter[Any] = bindparam("ws")
_ID: BindParameter[Any] = bindparam("id")
USER_COLUMNS = (users.c.id, users.c.doc, users.c.version, users.c.created, users.c.last_modified)
_user_where = (users.c.workspace_id == _WS, users.c.id == _ID)

USER_BY_ID = Statement(select(*USER_COLUMNS).where(*_user_where))
USER_BY_ID_FOR_UPDATE = Statement(select(*USER_COLUMNS).where(*_user_where).with_for_update())
USER_BY_USERNAME = Statement(
    select(*USER_COLUMNS).where(users.c.workspace_id == _WS, users.c.user_name_ci == bindparam("v"))
)
_by_external = (users.c.workspace_id == _WS, users.c.external_id.is_not(None), users.c.external_id == bindparam("v"))
USERS_BY_EXTERNAL_ID = Statement(
    select(*USER_COLUMNS)
    .where(*_by_external)
    .order_by(users.c.created, users.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
COUNT_USERS_BY_EXTERNAL_ID = Statement(select(func.count()).select_from(users).where(*_by_external))
COUNT_USERS = Statement(select(func.count()).select_from(users).where(users.c.workspace_id == _WS))
USER_PAGE = Statement(
    select(*USER_COLUMNS)
    .where(users.c.workspace_id == _WS)
    .order_by(users.c.created, users.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
USER_AND_GROUPS_FOR_UPDATE = Statement(
    select(*USER_COLUMNS, groups.c.id, groups.c.display_name)
    .select_from(
        users.outerjoin(
            members, (members.c.workspace_id == users.c.workspace_id) & (members.c.member_id == users.c.id)
        ).outerjoin(groups, groups.c.id == members.c.group_id)
    )
    .where(*_user_where)
    .order_by(groups.c.display_name_ci, groups.c.id)
    .with_for_update(of=users)
)
GROUPS_OF_USER = Statement(
    select(groups.c.id, groups.c.display_name)
    .join(members, groups.c.id == members.c.group_id)
    .where(members.c.workspace_id == _WS, members.c.member_id == _ID)
    .order_by(groups.c.display_name_ci, groups.c.id)
)

_USER_FIELDS = ("user_name", "user_name_ci", "external_id", "display_name", "active", "doc")
_user_row: dict[str, BindParameter[Any]] = {
    c: bindparam(c)
    for c in (*_USER_FIELDS, "id", "workspace_id", "password_hash", "version", "created", "last_modified")
}
# ON CONFLICT DO NOTHING without a target covers every unique constraint; the id is a fresh
# UUID, so a row not written means the userName is taken (no savepoint, no caught error).
INSERT_USER = Statement(
    sqlite.insert(users).values(_user_row).on_conflict_do_nothing(),
    postgresql.insert(users).values(_user_row).on_conflict_do_nothing(),
)
_user_set: dict[str, BindParameter[Any]] = {name: bindparam(name) for name in (*_USER_FIELDS, "version", "last_modified")}
_user_version_where = (*_user_where, users.c.version == bindparam("expected"))
UPDATE_USER = Statement(update(users).where(*_user_version_where).values(_user_set).returning(users.c.created))
UPDATE_USER_PASSWORD = Statement(
    update(users)
    .where(*_user_version_where)
    .values(_user_set | {"password_hash": bindparam("password_hash")})
    .returning(users.c.created)
)
INSERT_VALUE = Statement(
    insert(user_values).values(
        {c: bindparam(c) for c in ("user_id", "workspace_id", "path", "elem", "value", "value_ci", "value_num")}
    )
)
DELETE_VALUES_OF_USER = Statement(delete(user_values).where(user_values.c.user_id == _ID))
BUMP_GROUPS_OF_MEMBER = Statement(
    update(groups)
    .where(
        groups.c.id.in_(
            select(members.c.group_id).where(members.c.workspace_id == _WS, members.c.member_id == _ID)
        )
    )
    .values(version=groups.c.version + literal_column("1"), last_modified=bindparam("at"))
)
DELETE_MEMBERSHIPS_OF = Statement(delete(members).where(members.c.workspace_id == _WS, members.c.member_id == _ID))
DELETE_USER = Statement(delete(users).where(*_user_where))


def _delete_user_everywhere() -> ClauseElement:
    """PostgreSQL: the four statements of a user delete as one (data-modifying CTEs). The
    user's groups get a bump row each (``scim_group_bumps``) rather than an UPDATE: an UPDATE
    held each group's row lock until the commit, so deletes of members of one group ran one
    at a time, each through its commit's WAL flush."""
    gone = delete(members).where(members.c.workspace_id == _WS, members.c.member_id == _ID)
    gone_cte = gone.returning(members.c.group_id).cte("gone")
    at: BindParameter[Any] = bindparam("at", type_=bumps.c.at.type)
    bumped = insert(bumps).from_select(["group_id", "at"], select(gone_cte.c.group_id, at)).cte("bumped")
    values_gone = delete(user_values).where(user_values.c.user_id == _ID).cte("values_gone")
    return delete(users).where(*_user_where).add_cte(bumped).add_cte(values_gone)


DELETE_USER_EVERYWHERE = Statement(_delete_user_everywhere())

# ------------------------------------------------------------------------------ groups

# A group's version and lastModified count its bump rows (PostgreSQL user deletes, above) until
# its next own write folds them in (BUMP_GROUP): one snapshot sees the row and its bumps, so
# every committed change moves the version by one. SQLite never has bump rows.
_bump_count = select(func.count()).where(bumps.c.group_id == groups.c.id).scalar_subquery()
_last_bump = select(func.max(bumps.c.at)).where(bumps.c.group_id == groups.c.id).scalar_subquery()
GROUP_VERSION = (groups.c.version + _bump_count).label("version")
GROUP_LAST_MODIFIED = case((_last_bump > groups.c.last_modified, _last_bump), else_=groups.c.last_modified)
GROUP_COLUMNS = (groups.c.id, groups.c.doc, GROUP_VERSION, groups.c.created, GROUP_LAST_MODIFIED.label("last_modified"))
_group_where = (groups.c.workspace_id == _WS, groups.c.id == _ID)
GROUP_BY_ID = Statement(select(*GROUP_COLUMNS).where(*_group_where))
_by_display = (groups.c.workspace_id == _WS, groups.c.display_name_ci == bindparam("v"))
GROUPS_BY_DISPLAY_NAME = Statement(
    select(*GROUP_COLUMNS)
    .where(*_by_display)
    .order_by(groups.c.created, groups.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
COUNT_GROUPS_BY_DISPLAY_NAME = Statement(select(func.count()).select_from(groups).where(*_by_display))
_group_by_external = (
    groups.c.workspace_id == _WS,
    groups.c.external_id.is_not(None),
    groups.c.external_id == bindparam("v"),
)
GROUPS_BY_EXTERNAL_ID = Statement(
    select(*GROUP_COLUMNS)
    .where(*_group_by_external)
    .order_by(groups.c.created, groups.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
COUNT_GROUPS_BY_EXTERNAL_ID = Statement(select(func.count()).select_from(groups).where(*_group_by_external))
COUNT_GROUPS = Statement(select(func.count()).select_from(groups).where(groups.c.workspace_id == _WS))
GROUP_PAGE = Statement(
    select(*GROUP_COLUMNS)
    .where(groups.c.workspace_id == _WS)
    .order_by(groups.c.created, groups.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
MEMBERS_OF_GROUP = Statement(
    select(members.c.member_id, members.c.member_type)
    .where(members.c.group_id == _ID)
    .order_by(members.c.member_id)
)
_GROUP_FIELDS = ("display_name", "display_name_ci", "external_id", "doc")
INSERT_GROUP = Statement(
    insert(groups).values(
        {c: bindparam(c) for c in (*_GROUP_FIELDS, "id", "workspace_id", "version", "created", "last_modified")}
    )
)
_bump = {"version": groups.c.version + literal_column("1"), "last_modified": bindparam("at")}
_bumped = (groups.c.version, groups.c.created, groups.c.doc)


def _bump_group(values: dict[str, Any]) -> Statement:
    """The group's own write: its version + 1; on PostgreSQL with its bump rows folded in (the
    rows it deletes are the ones it counts, in one snapshot; a bump committed meanwhile stays
    for the next read or write to count)."""
    folded = delete(bumps).where(bumps.c.group_id == _ID).returning(bumps.c.id).cte("folded")
    fold = {"version": groups.c.version + literal_column("1") + select(func.count()).select_from(folded).scalar_subquery()}
    return Statement(
        update(groups).where(*_group_where).values(values).returning(*_bumped),
        update(groups).where(*_group_where).values(values | fold).returning(*_bumped).add_cte(folded),
    )


BUMP_GROUP = _bump_group(_bump)
BUMP_GROUP_FIELDS = _bump_group(_bump | {c: bindparam(c) for c in _GROUP_FIELDS})
_member_row: dict[str, BindParameter[Any]] = {c: bindparam(c) for c in ("group_id", "member_id", "workspace_id", "member_type")}
INSERT_MEMBER = Statement(
    sqlite.insert(members).values(_member_row).on_conflict_do_nothing(),
    postgresql.insert(members).values(_member_row).on_conflict_do_nothing(),
)
DELETE_MEMBER = Statement(
    delete(members).where(members.c.group_id == _ID, members.c.member_id == bindparam("member_id"))
)
DELETE_MEMBERS_OF_GROUP = Statement(delete(members).where(members.c.group_id == _ID))
DELETE_GROUP = Statement(delete(groups).where(*_group_where))

# ------------------------------------------------------------------------------ tokens, audit

_epoch = select(func.coalesce(func.max(token_epoch.c.epoch), literal_column("0")))
REVOCATION_EPOCH = Statement(_epoch)  # 0 on a schema without the row (create_all)
TOKEN_BY_HASH = Statement(
    select(tokens.c.id, tokens.c.workspace_id, workspaces.c.name, tokens.c.scope, tokens.c.label,
           tokens.c.created, tokens.c.revoked, tokens.c.expires, _epoch.scalar_subquery())
    .join(workspaces, workspaces.c.id == tokens.c.workspace_id)
    .where(tokens.c.token_hash == bindparam("h"), tokens.c.revoked.is_(None))
)  # fmt: skip
INSERT_AUDIT = Statement(
    insert(audit_events).values(
        {c: bindparam(c) for c in ("workspace_id", "at", "actor", "action", "target_type", "target_id",
                                   "outcome", "detail", "target_display", "app_id", "changes")}
    )
)  # fmt: skip

