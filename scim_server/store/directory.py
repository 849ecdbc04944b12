"""Directory queries (SCIM users). Every function takes a Connection and a workspace id,
runs inside the caller's transaction, and never crosses workspaces.

Documents are stored as orjson text; rows come back as ``StoredResource`` so the SCIM layer
renders them without re-validating (validation happens once, on the way in). The hot
statements are the precompiled ones of ``fastsql``; only filtered or sorted listings build
SQL per request (``scim.filters``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from scim2_models import NotFoundException, PreconditionFailedException, UniquenessException
from sqlalchemy import ColumnElement, Connection, func, select

from scim_server.store import fastsql as sql
from scim_server.store.db import new_id, now
from scim_server.store.values import CORE_ATTRS, EXTENSION_ATTRS, comparison_key, user_value_rows

users = sql.users
user_values = sql.user_values
groups = sql.groups
members = sql.members
CHUNK = 500  # ids per IN list (far below SQLite's 32766 bound variables)


@dataclass(frozen=True, slots=True)
class StoredResource:
    id: str
    doc: dict[str, Any]
    version: int
    created: datetime
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class UserFields:
    """The parts of a validated user that the store indexes besides its document."""

    user_name: str
    external_id: str | None
    display_name: str | None
    active: bool
    doc: dict[str, Any]
    password_hash: str | None = None


@dataclass(frozen=True, slots=True)
class GroupFields:
    display_name: str
    external_id: str | None
    doc: dict[str, Any]


def stored(row: Sequence[Any]) -> StoredResource:
    """A ``(id, doc, version, created, last_modified)`` row as a StoredResource."""
    return StoredResource(row[0], orjson.loads(row[1]), row[2], sql.ts_out(row[3]), sql.ts_out(row[4]))


def check_version(current: int, if_match: str | None) -> None:
    """RFC 7644 §3.14: a stale ``If-Match`` is a 412, and nothing is written."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if str(current) not in wanted:
        raise PreconditionFailedException(detail="The resource has changed (If-Match does not match).")


def chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    return (ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK))


# ---------------------------------------------------------------------------- writes


def _user_row_values(fields: UserFields) -> dict[str, Any]:
    return {
        "user_name": fields.user_name,
        "user_name_ci": comparison_key(fields.user_name),
        "external_id": fields.external_id,
        "display_name": fields.display_name,
        "active": fields.active,
        "doc": orjson.dumps(fields.doc).decode(),
    }


_INDEXED_KEYS = frozenset(CORE_ATTRS) | frozenset(EXTENSION_ATTRS)


def _indexed(doc: dict[str, Any]) -> bytes:
    """The part of a document its value rows are made from (``user_value_rows`` reads
    only these keys, compared lower-cased), serialised: equal bytes give equal rows (JSON
    tells ``1`` from ``true`` and ``1.0``, which ``==`` on dicts does not)."""
    return orjson.dumps({key: value for key, value in doc.items() if key.lower() in _INDEXED_KEYS})


def _reindex_user(
    conn: Connection, workspace_id: int, user_id: str, doc: dict[str, Any], *, fresh: bool, old: dict[str, Any] | None = None
) -> None:
    """Write the user's value rows; ``old`` (the previous document) lets a write that
    changes no indexed attribute (``active``, ``userName``...) keep the rows it has."""
    if not fresh:
        if old is not None and _indexed(old) == _indexed(doc):
            return
        sql.defer(conn, sql.DELETE_VALUES_OF_USER, {"id": user_id})
    sql.insert_values(conn, user_value_rows(user_id, workspace_id, doc))


def _taken(user_name: str) -> UniquenessException:
    return UniquenessException(detail=f"userName {user_name!r} is already taken.")


def create_user(conn: Connection, workspace_id: int, fields: UserFields) -> StoredResource:
    """Insert the user and its value rows; UniquenessException (409) when the userName is taken."""
    user_id, at = new_id(), now()
    dialect = conn.dialect.name
    stamp = sql.ts_in(dialect, at)
    values = _user_row_values(fields) | {
        "id": user_id,
        "workspace_id": workspace_id,
        "password_hash": fields.password_hash,
        "version": 1,
        "created": stamp,
        "last_modified": stamp,
    }
    if sql.execute(conn, sql.INSERT_USER, values) == 0:  # ON CONFLICT DO NOTHING: the name is taken
        raise _taken(fields.user_name)
    _reindex_user(conn, workspace_id, user_id, fields.doc, fresh=True)
    return StoredResource(user_id, fields.doc, 1, at, at)


def get_user(conn: Connection, workspace_id: int, user_id: str, *, for_update: bool = False) -> StoredResource:
    stmt = sql.USER_BY_ID_FOR_UPDATE if for_update else sql.USER_BY_ID
    row = sql.fetchone(conn, stmt, {"ws": workspace_id, "id": user_id})
    if row is None:
        raise NotFoundException(detail=f"User {user_id} not found.")
    return stored(row)


def get_user_and_groups(conn: Connection, workspace_id: int, user_id: str) -> tuple[StoredResource, list[dict[str, Any]]]:
    """The user, locked for update, and its ``groups`` attribute (as ``groups_of``), in one
    query: a PATCH or PUT renders the groups, which a user write never changes."""
    rows = sql.fetchall(conn, sql.USER_AND_GROUPS_FOR_UPDATE, {"ws": workspace_id, "id": user_id})
    if not rows:
        raise NotFoundException(detail=f"User {user_id} not found.")
    memberships = [{"value": row[5], "display": row[6], "type": "direct"} for row in rows if row[5] is not None]
    return stored(rows[0]), memberships


def _update_user(conn: Connection, values: dict[str, Any], fields: UserFields, renamed: bool,
                 current: StoredResource | None) -> tuple[Any, ...] | None:  # fmt: skip
    stmt = sql.UPDATE_USER if fields.password_hash is None else sql.UPDATE_USER_PASSWORD
    if not renamed and current is not None:
        # The unique userName key is unchanged (no conflict is possible) and the caller holds
        # the row locked at ``expected``: the UPDATE cannot miss, and goes with the next round trip.
        sql.defer(conn, stmt, values)
        return (current.created,)
    if not renamed:
        return sql.fetchone(conn, stmt, values)
    try:
        return sql.fetchone(conn, stmt, values)
    except sql.integrity_error(conn) as exc:
        text = str(exc).lower()
        if "user_name" in text or "username" in text or "unique" in text:
            raise _taken(fields.user_name) from None
        raise


def replace_user(
    conn: Connection,
    workspace_id: int,
    user_id: str,
    fields: UserFields,
    *,
    expected_version: int,
    current: StoredResource | None = None,
) -> StoredResource:
    """Write a new document over the user; ``expected_version`` guards lost updates.

    ``current`` (the row the caller read *and locked*, ``get_user_and_groups``) lets a write
    that keeps the userName skip the uniqueness handling, and on PostgreSQL send the UPDATE
    with the unit's next round trip. A failed write raises and the caller's transaction rolls back.
    """
    at = now()
    values = _user_row_values(fields) | {
        "ws": workspace_id,
        "id": user_id,
        "expected": expected_version,
        "version": expected_version + 1,
        "last_modified": sql.ts_in(conn.dialect.name, at),
    }
    if fields.password_hash is not None:
        values["password_hash"] = fields.password_hash
    old_name = current.doc.get("userName") if current is not None else None
    renamed = not isinstance(old_name, str) or comparison_key(old_name) != values["user_name_ci"]
    row = _update_user(conn, values, fields, renamed, current)
    if row is None:
        raise PreconditionFailedException(detail="The resource changed while it was being written.")
    _reindex_user(conn, workspace_id, user_id, fields.doc, fresh=False, old=current.doc if current else None)
    return StoredResource(user_id, fields.doc, expected_version + 1, sql.ts_out(row[0]), at)


def delete_user(
    conn: Connection, workspace_id: int, user_id: str, current: StoredResource | None = None
) -> StoredResource:
    """Delete the user and remove it from every group (bumping those groups' versions).

    ``current``: the row the caller already read (and locked) in this transaction. The
    groups' rows are locked until the commit (a 2000-member group is locked by every member
    delete), so callers do the rest of their unit first and this last: on PostgreSQL it is
    then one statement and the commit."""
    found = current if current is not None else get_user(conn, workspace_id, user_id, for_update=True)
    key = {"ws": workspace_id, "id": user_id}
    dialect = conn.dialect.name
    at = sql.ts_in(dialect, now())
    if dialect == sql.POSTGRESQL:  # the user's row is locked: it cannot fail, and goes with the COMMIT
        sql.defer(conn, sql.DELETE_USER_EVERYWHERE, key | {"at": at})
        return found
    sql.execute(conn, sql.BUMP_GROUPS_OF_MEMBER, key | {"at": at})
    sql.execute(conn, sql.DELETE_MEMBERSHIPS_OF, key)
    sql.execute(conn, sql.DELETE_VALUES_OF_USER, key)
    sql.execute(conn, sql.DELETE_USER, key)
    return found


# ---------------------------------------------------------------------------- reads


def count_users(conn: Connection, workspace_id: int, where: ColumnElement[bool] | None) -> int:
    if where is None:
        return int(sql.fetchone(conn, sql.COUNT_USERS, {"ws": workspace_id})[0])  # type: ignore[index]
    query = select(func.count()).select_from(users).where(users.c.workspace_id == workspace_id, where)
    return int(conn.execute(query).scalar_one())


def list_users(
    conn: Connection,
    workspace_id: int,
    where: ColumnElement[bool] | None,
    order_by: Sequence[ColumnElement[object]] | None,
    offset: int,
    limit: int,
) -> list[StoredResource]:
    """A page of users; ``where=None, order_by=None`` is the default order (creation, id)."""
    if where is None and order_by is None:
        params = {"ws": workspace_id, "limit": limit, "offset": offset}
        return [stored(row) for row in sql.fetchall(conn, sql.USER_PAGE, params)]
    query = select(*sql.USER_COLUMNS).where(users.c.workspace_id == workspace_id)
    if where is not None:
        query = query.where(where)
    if order_by is None:
        order_by = (users.c.created, users.c.id)
    query = query.order_by(*order_by).offset(offset).limit(limit)
    return [stored(row) for row in conn.execute(query)]


# attribute (lower case) -> (statement, count statement or None when unique, caseExact)
_EQ_FILTERS = {
    "username": (sql.USER_BY_USERNAME, None, False),
    "id": (sql.USER_BY_ID, None, True),
    "externalid": (sql.USERS_BY_EXTERNAL_ID, sql.COUNT_USERS_BY_EXTERNAL_ID, True),
}

EQ_ATTRIBUTES = frozenset(_EQ_FILTERS)


def find_users_eq(
    conn: Connection, workspace_id: int, attribute: str, value: str, offset: int, limit: int
) -> tuple[int, list[StoredResource]]:
    """``attribute eq "value"`` on a column of ``scim_users`` (``userName``, ``id``,
    ``externalId``): (totalResults, the page), in the default order.

    Compares as ``scim.filters`` does (the operand in the column's stored form, through
    ``comparison_key``). On a unique column the total is the number of rows found."""
    stmt, count_stmt, case_exact = _EQ_FILTERS[attribute]
    params: dict[str, Any] = {"ws": workspace_id, "v": comparison_key(value, case_exact)}
    if attribute == "id":
        params["id"] = params.pop("v")
    if count_stmt is None:
        rows = sql.fetchall(conn, stmt, params)
        return len(rows), [stored(row) for row in rows[offset : offset + limit]]
    return paged(conn, stmt, count_stmt, params, offset, limit)


def paged(
    conn: Connection, stmt: sql.Statement, count_stmt: sql.Statement, params: dict[str, Any], offset: int, limit: int
) -> tuple[int, list[StoredResource]]:
    """A page and the total; the COUNT is skipped when the first page holds every row."""
    rows = sql.fetchall(conn, stmt, params | {"limit": limit, "offset": offset}) if limit else []
    if offset == 0 and len(rows) < limit:
        return len(rows), [stored(row) for row in rows]
    total = int(sql.fetchone(conn, count_stmt, params)[0])  # type: ignore[index]
    return total, [stored(row) for row in rows]


def groups_of(conn: Connection, workspace_id: int, user_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The read-only ``groups`` attribute of each user (RFC 7643 §4.1.2), direct memberships."""
    ids = list(user_ids)
    out: dict[str, list[dict[str, Any]]] = {uid: [] for uid in ids}
    if len(ids) == 1:
        rows = sql.fetchall(conn, sql.GROUPS_OF_USER, {"ws": workspace_id, "id": ids[0]})
        out[ids[0]] = [{"value": gid, "display": display, "type": "direct"} for gid, display in rows]
        return out
    for chunk in chunks(ids):  # a user's rows all come from its chunk, in display order
        params = sql.in_params("i", chunk) | {"ws": workspace_id}
        for member_id, group_id, display in sql.fetchall(conn, sql.groups_of_users(len(chunk)), params):
            out[member_id].append({"value": group_id, "display": display, "type": "direct"})
    return out

