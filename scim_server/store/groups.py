"""Group queries. Members are rows, so a PATCH that adds or removes 50 members of a
2000-member group writes 50 rows and never reads the other 1950 (one SELECT checks which of
the 50 ids exist, one executemany writes them, one UPDATE bumps the version); a GET with
``excludedAttributes=members`` never touches the member table at all.

Every write that moves members puts the users who joined or left on the change feed
(``feed.record_users``, one statement), so an app's reconcile job reaches those users only:
a create (all joined), a PATCH (the ids it adds and removes; a member replace, the difference
with the list it replaced), a PUT (the difference; ``Moved`` also goes to its audit event) and
a delete (all its user members left, read by the one INSERT ... SELECT)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from scim2_models import InvalidValueException, NotFoundException, PreconditionFailedException
from sqlalchemy import ColumnElement, Connection, func, select

from scim_server.store import fastsql as sql
from scim_server.store import feed
from scim_server.store.db import new_id, now
from scim_server.store.directory import (
    GroupFields,
    StoredResource,
    check_version,
    chunks,
    paged,
    stored,
)
from scim_server.store.values import comparison_key

groups = sql.groups
members = sql.members


@dataclass(frozen=True, slots=True)
class MemberChange:
    """What a PATCH does to the member rows; ``replace`` (a list) wins over add/remove."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    replace: tuple[str, ...] | None = None
    remove_all: bool = False


@dataclass(frozen=True, slots=True)
class Moved:
    """The member ids a write added to a group and removed from it, in request (added) and id
    (removed) order; what ``replace_group`` reports for the audit trail."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


def _group_values(fields: GroupFields) -> dict[str, Any]:
    return {
        "display_name": fields.display_name,
        "display_name_ci": comparison_key(fields.display_name),
        "external_id": fields.external_id,
        "doc": orjson.dumps(fields.doc).decode(),
    }


def _member_types(conn: Connection, workspace_id: int, ids: Sequence[str]) -> dict[str, str]:
    """Each id's type ("User" or "Group"), in first-seen order; an id that is neither a user
    nor a group of the workspace is a 400 (nothing is written)."""
    unique = list(dict.fromkeys(ids))
    found = {i: kind for i, kind in sql.member_types(conn, workspace_id, unique) if kind is not None}
    unknown = [i for i in unique if i not in found]
    if unknown:
        raise InvalidValueException(detail=f"Unknown member id(s): {', '.join(unknown[:5])}")
    return {i: found[i] for i in unique}


def _add_members(conn: Connection, workspace_id: int, group_id: str, ids: Sequence[str]) -> dict[str, str]:
    """Insert the member rows (existing ones are kept); returns each id's type."""
    if not ids:
        return {}
    types = _member_types(conn, workspace_id, ids)
    rows = [
        {"group_id": group_id, "member_id": i, "workspace_id": workspace_id, "member_type": kind}
        for i, kind in types.items()
    ]
    sql.insert_members(conn, rows)
    return types


def _users(types: dict[str, str]) -> list[str]:
    return [i for i, kind in types.items() if kind == "User"]


def _current(conn: Connection, group_id: str) -> dict[str, str]:
    """The group's member ids (ordered) with their types: one SELECT."""
    return dict(sql.fetchall(conn, sql.MEMBERS_OF_GROUP, {"id": group_id}))


def _remove_members(conn: Connection, group_id: str, ids: Sequence[str]) -> None:
    sql.delete_members(conn, group_id, list(dict.fromkeys(ids)))


def create_group(
    conn: Connection, workspace_id: int, fields: GroupFields, member_ids: Sequence[str]
) -> StoredResource:
    group_id, at = new_id(), now()
    stamp = sql.ts_in(conn.dialect.name, at)
    values = _group_values(fields) | {
        "id": group_id, "workspace_id": workspace_id, "version": 1, "created": stamp, "last_modified": stamp,
    }  # fmt: skip
    sql.execute(conn, sql.INSERT_GROUP, values)
    feed.record_users(conn, workspace_id, _users(_add_members(conn, workspace_id, group_id, member_ids)), group_id)
    return StoredResource(group_id, fields.doc, 1, at, at)


def get_group(conn: Connection, workspace_id: int, group_id: str) -> StoredResource:
    row = sql.fetchone(conn, sql.GROUP_BY_ID, {"ws": workspace_id, "id": group_id})
    if row is None:
        raise NotFoundException(detail=f"Group {group_id} not found.")
    return stored(row)


def members_of(conn: Connection, group_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Each group's member rows (``value``, ``type``), ordered by member id."""
    ids = list(group_ids)
    out: dict[str, list[dict[str, Any]]] = {gid: [] for gid in ids}
    if len(ids) == 1:
        rows = sql.fetchall(conn, sql.MEMBERS_OF_GROUP, {"id": ids[0]})
        out[ids[0]] = [{"value": member_id, "type": kind} for member_id, kind in rows]
        return out
    for chunk in chunks(ids):
        for group_id, member_id, kind in sql.fetchall(conn, sql.members_of_groups(len(chunk)), sql.in_params("i", chunk)):
            out[group_id].append({"value": member_id, "type": kind})
    return out


def _bump(
    conn: Connection,
    workspace_id: int,
    group_id: str,
    if_match: str | None,
    fields: GroupFields | None,
    current: StoredResource | None,
) -> StoredResource:
    """Check If-Match, then take the group's row lock by writing the new version first:
    concurrent writers of one group queue here, so no member change is lost (PostgreSQL row
    lock; SQLite has a single writer). ``current`` is the row the caller read, if any."""
    if if_match is not None:
        current = current if current is not None else get_group(conn, workspace_id, group_id)
        check_version(current.version, if_match)
    at = now()
    params: dict[str, Any] = {"ws": workspace_id, "id": group_id, "at": sql.ts_in(conn.dialect.name, at)}
    stmt = sql.BUMP_GROUP
    if fields is not None:
        stmt, params = sql.BUMP_GROUP_FIELDS, params | _group_values(fields)
    row = sql.fetchone(conn, stmt, params)
    if row is None:
        raise NotFoundException(detail=f"Group {group_id} not found.")
    version, created, doc = row
    if if_match and current is not None and version != current.version + 1:
        raise PreconditionFailedException(detail="The resource changed while it was being written.")
    return StoredResource(group_id, orjson.loads(doc), version, sql.ts_out(created), at)


def replace_group(
    conn: Connection,
    workspace_id: int,
    group_id: str,
    fields: GroupFields,
    member_ids: Sequence[str],
    if_match: str | None,
    current: StoredResource | None = None,
) -> tuple[StoredResource, Moved]:
    """Replace the group's fields and members; also the members that moved (``Moved``, on the
    feed too). The old members are read after the version bump, which holds the group's row
    lock: no other writer of the group commits in between (they all bump it). ``current``: the
    row the caller read in this transaction, if any."""
    result = _bump(conn, workspace_id, group_id, if_match, fields, current)
    old = _current(conn, group_id)
    sql.execute(conn, sql.DELETE_MEMBERS_OF_GROUP, {"id": group_id})
    new = _add_members(conn, workspace_id, group_id, member_ids)
    moved = Moved(tuple(i for i in new if i not in old), tuple(i for i in old if i not in new))
    kinds = old | new
    feed.record_users(conn, workspace_id, [i for i in (*moved.added, *moved.removed) if kinds[i] == "User"], group_id)
    return result, moved


def patch_group(
    conn: Connection,
    workspace_id: int,
    group_id: str,
    fields: GroupFields | None,
    change: MemberChange,
    if_match: str | None,
    current: StoredResource | None = None,
    before_bump: Callable[[Moved], None] | None = None,
) -> StoredResource:
    """Apply ``change`` to the member rows, then bump the group's version.

    The bump comes last: it locks the group's row until the commit, and every member change
    of a large group queues on that lock (PostgreSQL), so it is held for one statement and
    the commit rather than for the whole unit: ``before_bump`` (the caller's audit event)
    runs before it, with the members that moved (a member replace: the difference with the
    members it replaced, as ``replace_group``; otherwise the ids the change names, as sent).
    Member rows need no lock of their own: concurrent adds and removes of one member meet on
    its primary key. ``current``: the row the caller read in this transaction, if any."""
    if if_match is not None:  # 412 before anything is written
        current = current if current is not None else get_group(conn, workspace_id, group_id)
        check_version(current.version, if_match)
    replacing = change.remove_all or change.replace is not None
    old = _current(conn, group_id) if replacing else {}
    if replacing:
        sql.execute(conn, sql.DELETE_MEMBERS_OF_GROUP, {"id": group_id})
    try:
        new: dict[str, str] = {}
        if change.replace is not None:
            new = _add_members(conn, workspace_id, group_id, change.replace)
        if change.remove:
            _remove_members(conn, group_id, change.remove)
        added = _add_members(conn, workspace_id, group_id, change.add) if change.add else {}
        if replacing:  # the difference between the members before and after
            final = {i: k for i, k in (new | added).items() if i not in change.remove or i in added}
            moved = Moved(tuple(i for i in final if i not in old), tuple(i for i in old if i not in final))
            kinds = final | old
            feed.record_users(conn, workspace_id, [i for i in (*moved.added, *moved.removed) if kinds[i] == "User"],
                              group_id)  # fmt: skip
        else:  # the ids it names (one already in, or not, moves nobody: a few more reached)
            moved = Moved(change.add, change.remove)
            feed.record_users(conn, workspace_id, [*_users(added), *change.remove], group_id)
        if before_bump is not None:
            before_bump(moved)
        # On PostgreSQL the member rows go with the bump (``fastsql.defer``): a foreign-key
        # error of theirs is raised by it.
        return _bump(conn, workspace_id, group_id, if_match, fields, current)
    except sql.integrity_error(conn) as exc:  # the group is gone: a member row's only foreign key
        text = str(exc).lower()
        if "fk_scim_group_members_group_id" not in text and "foreign key" not in text:
            raise
        raise NotFoundException(detail=f"Group {group_id} not found.") from None


def delete_group(
    conn: Connection, workspace_id: int, group_id: str, current: StoredResource | None = None
) -> StoredResource:
    """Delete the group, its member rows and its own memberships in other groups.

    Of concurrent deletes of one group exactly one succeeds; the others raise
    NotFoundException (and their transactions roll back). The group's row is deleted last,
    and whoever's DELETE finds it gone lost: on PostgreSQL a second DELETE waits for the
    first's row lock and then finds nothing. The member rows go first, as in a user delete
    (member rows, then group rows): locking the group first would take the two in opposite
    orders and let a group delete deadlock with a member's delete."""
    found = current if current is not None else get_group(conn, workspace_id, group_id)
    key = {"ws": workspace_id, "id": group_id}
    feed.record_group_members(conn, workspace_id, group_id)  # they all leave it
    sql.execute(conn, sql.DELETE_MEMBERS_OF_GROUP, key)
    sql.execute(conn, sql.DELETE_MEMBERSHIPS_OF, key)
    if sql.execute(conn, sql.DELETE_GROUP, key) == 0:
        raise NotFoundException(detail=f"Group {group_id} not found.")
    return found


def count_groups(conn: Connection, workspace_id: int, where: ColumnElement[bool] | None) -> int:
    if where is None:
        return int(sql.fetchone(conn, sql.COUNT_GROUPS, {"ws": workspace_id})[0])  # type: ignore[index]
    query = select(func.count()).select_from(groups).where(groups.c.workspace_id == workspace_id, where)
    return int(conn.execute(query).scalar_one())


def list_groups(
    conn: Connection,
    workspace_id: int,
    where: ColumnElement[bool] | None,
    order_by: Sequence[ColumnElement[object]] | None,
    offset: int,
    limit: int,
) -> list[StoredResource]:
    """A page of groups; ``where=None, order_by=None`` is the default order (creation, id)."""
    if where is None and order_by is None:
        params = {"ws": workspace_id, "limit": limit, "offset": offset}
        return [stored(row) for row in sql.fetchall(conn, sql.GROUP_PAGE, params)]
    query = select(*sql.GROUP_COLUMNS).where(groups.c.workspace_id == workspace_id)
    if where is not None:
        query = query.where(where)
    if order_by is None:
        order_by = (groups.c.created, groups.c.id)
    query = query.order_by(*order_by).offset(offset).limit(limit)
    return [stored(row) for row in conn.execute(query)]


# attribute (lower case) -> (statement, count statement or None when unique, caseExact)
_EQ_FILTERS = {
    "displayname": (sql.GROUPS_BY_DISPLAY_NAME, sql.COUNT_GROUPS_BY_DISPLAY_NAME, False),
    "externalid": (sql.GROUPS_BY_EXTERNAL_ID, sql.COUNT_GROUPS_BY_EXTERNAL_ID, True),
    "id": (sql.GROUP_BY_ID, None, True),
}

EQ_ATTRIBUTES = frozenset(_EQ_FILTERS)


def find_groups_eq(
    conn: Connection, workspace_id: int, attribute: str, value: str, offset: int, limit: int
) -> tuple[int, list[StoredResource]]:
    """``attribute eq "value"`` on a column of ``scim_groups`` (``displayName``,
    ``externalId``, ``id``): (totalResults, the page), compared as ``scim.filters`` does."""
    stmt, count_stmt, case_exact = _EQ_FILTERS[attribute]
    key = comparison_key(value, case_exact)
    if count_stmt is None:
        rows = sql.fetchall(conn, stmt, {"ws": workspace_id, "id": key})
        return len(rows), [stored(row) for row in rows[offset : offset + limit]]
    return paged(conn, stmt, count_stmt, {"ws": workspace_id, "v": key}, offset, limit)
