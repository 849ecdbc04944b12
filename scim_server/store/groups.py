"""Group queries. Members are rows, so a PATCH that adds or removes 50 members of a
2000-member group writes 50 rows and never reads the other 1950; a GET with
``excludedAttributes=members`` never touches the member table at all."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson
from scim2_models import InvalidValueException, NotFoundException, PreconditionFailedException
from sqlalchemy import ColumnElement, Connection, delete, func, insert, select, update

from scim_server.store.values import comparison_key
from scim_server.store.directory import (
    GroupFields,
    StoredResource,
    _aware,
    _insert_ignore,
    _stored,
    check_version,
    existing_user_ids,
    groups,
    members,
    new_id,
    now,
)

_GROUP_COLUMNS = (groups.c.id, groups.c.doc, groups.c.version, groups.c.created, groups.c.last_modified)


@dataclass(frozen=True, slots=True)
class MemberChange:
    """What a PATCH does to the member rows; ``replace`` (a list) wins over add/remove."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    replace: tuple[str, ...] | None = None
    remove_all: bool = False


def _group_values(fields: GroupFields) -> dict:
    return {
        "display_name": fields.display_name,
        "display_name_ci": comparison_key(fields.display_name),
        "external_id": fields.external_id,
        "doc": orjson.dumps(fields.doc).decode(),
    }


def _member_types(conn: Connection, workspace_id: int, ids: Sequence[str]) -> list[dict]:
    """Rows for the member table; an id that is neither a user nor a group is a 400."""
    unique = list(dict.fromkeys(ids))
    user_ids = existing_user_ids(conn, workspace_id, unique)
    rest = [i for i in unique if i not in user_ids]
    group_ids: set[str] = set()
    for start in range(0, len(rest), 500):
        chunk = rest[start : start + 500]
        group_ids.update(
            conn.execute(
                select(groups.c.id).where(groups.c.workspace_id == workspace_id, groups.c.id.in_(chunk))
            ).scalars()
        )
    unknown = [i for i in rest if i not in group_ids]
    if unknown:
        raise InvalidValueException(detail=f"Unknown member id(s): {', '.join(unknown[:5])}")
    return [
        {"member_id": i, "workspace_id": workspace_id, "member_type": "User" if i in user_ids else "Group"}
        for i in unique
    ]


def _add_members(conn: Connection, workspace_id: int, group_id: str, ids: Sequence[str]) -> None:
    rows = _member_types(conn, workspace_id, ids)
    _insert_ignore(conn, members, [row | {"group_id": group_id} for row in rows])


def _remove_members(conn: Connection, group_id: str, ids: Sequence[str]) -> None:
    unique = list(set(ids))
    for start in range(0, len(unique), 500):
        conn.execute(
            delete(members).where(members.c.group_id == group_id, members.c.member_id.in_(unique[start : start + 500]))
        )


def create_group(
    conn: Connection, workspace_id: int, fields: GroupFields, member_ids: Sequence[str]
) -> StoredResource:
    group_id, at = new_id(), now()
    conn.execute(
        insert(groups),
        _group_values(fields)
        | {"id": group_id, "workspace_id": workspace_id, "version": 1, "created": at, "last_modified": at},
    )
    _add_members(conn, workspace_id, group_id, member_ids)
    return StoredResource(group_id, fields.doc, 1, at, at)


def get_group(conn: Connection, workspace_id: int, group_id: str) -> StoredResource:
    row = conn.execute(
        select(*_GROUP_COLUMNS).where(groups.c.workspace_id == workspace_id, groups.c.id == group_id)
    ).first()
    if row is None:
        raise NotFoundException(detail=f"Group {group_id} not found.")
    return _stored(row)


def members_of(conn: Connection, group_ids: Iterable[str]) -> dict[str, list[dict]]:
    ids = list(group_ids)
    out: dict[str, list[dict]] = {gid: [] for gid in ids}
    if not ids:
        return out
    query = (
        select(members.c.group_id, members.c.member_id, members.c.member_type)
        .where(members.c.group_id.in_(ids))
        .order_by(members.c.group_id, members.c.member_id)
    )
    for group_id, member_id, member_type in conn.execute(query):
        out[group_id].append({"value": member_id, "type": member_type})
    return out


def _bump(conn: Connection, workspace_id: int, group_id: str, if_match: str | None, values: dict) -> StoredResource:
    """Take the group's row lock, check If-Match, and write the new version first: concurrent
    writers of one group queue here, so no member change is lost (PostgreSQL row lock;
    SQLite has a single writer)."""
    current = get_group(conn, workspace_id, group_id)
    check_version(current.version, if_match)
    at = now()
    row = conn.execute(
        update(groups)
        .where(groups.c.workspace_id == workspace_id, groups.c.id == group_id)
        .values(values | {"version": groups.c.version + 1, "last_modified": at})
        .returning(groups.c.version, groups.c.created, groups.c.doc)
    ).first()
    if row is None:
        raise NotFoundException(detail=f"Group {group_id} not found.")
    if if_match and row.version != current.version + 1:
        raise PreconditionFailedException(detail="The resource changed while it was being written.")
    return StoredResource(group_id, orjson.loads(row.doc), row.version, _aware(row.created), at)


def replace_group(
    conn: Connection,
    workspace_id: int,
    group_id: str,
    fields: GroupFields,
    member_ids: Sequence[str],
    if_match: str | None,
) -> StoredResource:
    stored = _bump(conn, workspace_id, group_id, if_match, _group_values(fields))
    conn.execute(delete(members).where(members.c.group_id == group_id))
    _add_members(conn, workspace_id, group_id, member_ids)
    return stored


def patch_group(
    conn: Connection,
    workspace_id: int,
    group_id: str,
    fields: GroupFields | None,
    change: MemberChange,
    if_match: str | None,
) -> StoredResource:
    stored = _bump(conn, workspace_id, group_id, if_match, _group_values(fields) if fields else {})
    if change.remove_all or change.replace is not None:
        conn.execute(delete(members).where(members.c.group_id == group_id))
    if change.replace is not None:
        _add_members(conn, workspace_id, group_id, change.replace)
    if change.remove:
        _remove_members(conn, group_id, change.remove)
    if change.add:
        _add_members(conn, workspace_id, group_id, change.add)
    return stored


def delete_group(conn: Connection, workspace_id: int, group_id: str) -> StoredResource:
    stored = get_group(conn, workspace_id, group_id)
    conn.execute(delete(members).where(members.c.group_id == group_id))
    conn.execute(
        delete(members).where(members.c.workspace_id == workspace_id, members.c.member_id == group_id)
    )
    conn.execute(delete(groups).where(groups.c.workspace_id == workspace_id, groups.c.id == group_id))
    return stored


def count_groups(conn: Connection, workspace_id: int, where: ColumnElement[bool] | None) -> int:
    query = select(func.count()).select_from(groups).where(groups.c.workspace_id == workspace_id)
    if where is not None:
        query = query.where(where)
    return int(conn.execute(query).scalar_one())


def list_groups(
    conn: Connection,
    workspace_id: int,
    where: ColumnElement[bool] | None,
    order_by: Sequence[ColumnElement[object]],
    offset: int,
    limit: int,
) -> list[StoredResource]:
    query = select(*_GROUP_COLUMNS).where(groups.c.workspace_id == workspace_id)
    if where is not None:
        query = query.where(where)
    query = query.order_by(*order_by).offset(offset).limit(limit)
    return [_stored(row) for row in conn.execute(query)]
