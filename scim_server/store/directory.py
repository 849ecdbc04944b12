"""Directory queries (SCIM users and groups). Every function takes a Connection and a
workspace id, runs inside the caller's transaction, and never crosses workspaces.

Documents are stored as orjson text; rows come back as ``StoredResource`` so the SCIM layer
renders them without re-validating (validation happens once, on the way in).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from scim2_models import NotFoundException, PreconditionFailedException, UniquenessException
from sqlalchemy import Connection, ColumnElement, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from scim_server.store.db import new_id, now
from scim_server.store.models import (
    ScimGroup,
    ScimGroupMember,
    ScimUser,
    ScimUserValue,
)
from scim_server.store.values import comparison_key, user_value_rows

users = ScimUser.__table__
user_values = ScimUserValue.__table__
groups = ScimGroup.__table__
members = ScimGroupMember.__table__


@dataclass(frozen=True, slots=True)
class StoredResource:
    id: str
    doc: dict
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
    doc: dict
    password_hash: str | None = None


@dataclass(frozen=True, slots=True)
class GroupFields:
    display_name: str
    external_id: str | None
    doc: dict


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _stored(row: object) -> StoredResource:
    return StoredResource(
        id=row.id,  # type: ignore[attr-defined]
        doc=orjson.loads(row.doc),  # type: ignore[attr-defined]
        version=row.version,  # type: ignore[attr-defined]
        created=_aware(row.created),  # type: ignore[attr-defined]
        last_modified=_aware(row.last_modified),  # type: ignore[attr-defined]
    )


def check_version(current: int, if_match: str | None) -> None:
    """RFC 7644 §3.14: a stale ``If-Match`` is a 412, and nothing is written."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if str(current) not in wanted:
        raise PreconditionFailedException(detail="The resource has changed (If-Match does not match).")


def _insert_ignore(conn: Connection, table: object, rows: list[dict]) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- users

_USER_COLUMNS = (users.c.id, users.c.doc, users.c.version, users.c.created, users.c.last_modified)


def _user_row_values(fields: UserFields) -> dict:
    return {
        "user_name": fields.user_name,
        "user_name_ci": comparison_key(fields.user_name),
        "external_id": fields.external_id,
        "display_name": fields.display_name,
        "active": fields.active,
        "doc": orjson.dumps(fields.doc).decode(),
    }


def _reindex_user(conn: Connection, workspace_id: int, user_id: str, doc: dict, *, fresh: bool) -> None:
    if not fresh:
        conn.execute(delete(user_values).where(user_values.c.user_id == user_id))
    rows = user_value_rows(user_id, workspace_id, doc)
    if rows:
        conn.execute(insert(user_values), rows)


def _raise_unique(exc: IntegrityError, user_name: str) -> None:
    text = str(exc.orig).lower()
    if "user_name" in text or "username" in text or "unique" in text:
        raise UniquenessException(detail=f"userName {user_name!r} is already taken.") from None
    raise exc


def create_user(conn: Connection, workspace_id: int, fields: UserFields) -> StoredResource:
    user_id, at = new_id(), now()
    values = _user_row_values(fields) | {
        "id": user_id,
        "workspace_id": workspace_id,
        "password_hash": fields.password_hash,
        "version": 1,
        "created": at,
        "last_modified": at,
    }
    try:
        with conn.begin_nested():
            conn.execute(insert(users), values)
    except IntegrityError as exc:
        _raise_unique(exc, fields.user_name)
    _reindex_user(conn, workspace_id, user_id, fields.doc, fresh=True)
    return StoredResource(user_id, fields.doc, 1, at, at)


def get_user(conn: Connection, workspace_id: int, user_id: str, *, for_update: bool = False) -> StoredResource:
    query = select(*_USER_COLUMNS).where(users.c.workspace_id == workspace_id, users.c.id == user_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundException(detail=f"User {user_id} not found.")
    return _stored(row)


def replace_user(
    conn: Connection, workspace_id: int, user_id: str, fields: UserFields, *, expected_version: int
) -> StoredResource:
    """Write a new document over the user; ``expected_version`` guards lost updates."""
    at = now()
    values = _user_row_values(fields) | {"version": expected_version + 1, "last_modified": at}
    if fields.password_hash is not None:
        values["password_hash"] = fields.password_hash
    try:
        with conn.begin_nested():
            result = conn.execute(
                update(users)
                .where(
                    users.c.workspace_id == workspace_id,
                    users.c.id == user_id,
                    users.c.version == expected_version,
                )
                .values(values)
                .returning(users.c.created)
            ).first()
    except IntegrityError as exc:
        _raise_unique(exc, fields.user_name)
    if result is None:
        raise PreconditionFailedException(detail="The resource changed while it was being written.")
    _reindex_user(conn, workspace_id, user_id, fields.doc, fresh=False)
    return StoredResource(user_id, fields.doc, expected_version + 1, _aware(result.created), at)


def delete_user(conn: Connection, workspace_id: int, user_id: str) -> StoredResource:
    """Delete the user and remove it from every group (bumping those groups' versions)."""
    stored = get_user(conn, workspace_id, user_id, for_update=True)
    affected = select(members.c.group_id).where(
        members.c.workspace_id == workspace_id, members.c.member_id == user_id
    )
    conn.execute(
        update(groups)
        .where(groups.c.id.in_(affected))
        .values(version=groups.c.version + 1, last_modified=now())
    )
    conn.execute(delete(members).where(members.c.workspace_id == workspace_id, members.c.member_id == user_id))
    conn.execute(delete(user_values).where(user_values.c.user_id == user_id))
    conn.execute(delete(users).where(users.c.workspace_id == workspace_id, users.c.id == user_id))
    return stored


def count_users(conn: Connection, workspace_id: int, where: ColumnElement[bool] | None) -> int:
    query = select(func.count()).select_from(users).where(users.c.workspace_id == workspace_id)
    if where is not None:
        query = query.where(where)
    return int(conn.execute(query).scalar_one())


def list_users(
    conn: Connection,
    workspace_id: int,
    where: ColumnElement[bool] | None,
    order_by: Sequence[ColumnElement[object]],
    offset: int,
    limit: int,
) -> list[StoredResource]:
    query = select(*_USER_COLUMNS).where(users.c.workspace_id == workspace_id)
    if where is not None:
        query = query.where(where)
    query = query.order_by(*order_by).offset(offset).limit(limit)
    return [_stored(row) for row in conn.execute(query)]


def groups_of(conn: Connection, workspace_id: int, user_ids: Iterable[str]) -> dict[str, list[dict]]:
    """The read-only ``groups`` attribute of each user (RFC 7643 §4.1.2), direct memberships."""
    ids = list(user_ids)
    out: dict[str, list[dict]] = {uid: [] for uid in ids}
    if not ids:
        return out
    query = (
        select(members.c.member_id, groups.c.id, groups.c.display_name)
        .join(groups, groups.c.id == members.c.group_id)
        .where(members.c.workspace_id == workspace_id, members.c.member_id.in_(ids))
        .order_by(groups.c.display_name_ci, groups.c.id)
    )
    for member_id, group_id, display in conn.execute(query):
        out[member_id].append({"value": group_id, "display": display, "type": "direct"})
    return out


def existing_user_ids(conn: Connection, workspace_id: int, ids: Iterable[str]) -> set[str]:
    wanted = list(set(ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            conn.execute(
                select(users.c.id).where(users.c.workspace_id == workspace_id, users.c.id.in_(chunk))
            ).scalars()
        )
    return found
