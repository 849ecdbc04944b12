"""App members, assets and permissions: imports (upserts in batches), state updates, reads."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    text,
    tuple_,
    update,
)

from scim_server.store import fastsql, paging
from scim_server.store.app_models import AppAsset, AppMember, AppPermission
from scim_server.store.db import new_id, now

app_members = AppMember.__table__
app_assets = AppAsset.__table__
app_permissions = AppPermission.__table__
OPEN = app_members.c.closed.is_(None)


@dataclass(frozen=True, slots=True)
class ImportedMember:
    remote_id: str
    email: str | None
    username: str | None
    display_name: str | None
    app_role: str | None
    status: str


def _email_ci(email: str | None) -> str | None:
    return email.strip().casefold() if email else None


def upsert_members(conn: Connection, workspace_id: int, app_id: str, batch: Sequence[ImportedMember],
                   seen_at: datetime) -> int:  # fmt: skip
    """Insert new members, refresh known ones (reopening a closed one); returns how many were new.
    PostgreSQL: one INSERT ... ON CONFLICT over arrays for the batch; SQLite: a read of the
    batch's known rows, then prepared statements run on the driver (``fastsql``): an INSERT of
    the new, an UPDATE of the changed and a ``last_seen`` UPDATE of the rest (most of them, check
    after check). Through SQLAlchemy's executemany, binding each row's values and timestamps
    was a fifth of a first check's CPU at 50,000 members."""
    if not batch:
        return 0
    if conn.dialect.name == "postgresql":
        return _upsert_pg(conn, workspace_id, app_id, batch, seen_at)
    ids = orjson.dumps([m.remote_id for m in batch]).decode()
    known = {row[0]: row[1:] for row in fastsql.fetchall(conn, _KNOWN_SQLITE, {"app": app_id, "ids": ids})}
    seen = fastsql.ts_in(fastsql.SQLITE, seen_at)
    fresh: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    unchanged: list[str] = []
    for m in batch:
        values = (m.email, _email_ci(m.email), m.username, m.display_name, m.app_role, m.status)
        row = known.get(m.remote_id)
        if row is None:
            fresh.append({"id": new_id(), "ws": workspace_id, "app": app_id, "remote_id": m.remote_id,
                          "seen": seen, **dict(zip(REFRESHED, values, strict=True))})  # fmt: skip
        elif row[1] is None and tuple(row[2:]) == values:
            unchanged.append(row[0])
        else:
            changed.append({"id": row[0], "seen": seen, **dict(zip(REFRESHED, values, strict=True))})
    fastsql.executemany(conn, _INSERT_SQLITE, fresh)
    fastsql.executemany(conn, _REFRESH_SQLITE, changed)
    if unchanged:
        fastsql.execute(conn, _SEEN_SQLITE, {"seen": seen, "ids": orjson.dumps(unchanged).decode()})
    return len(fresh)


REFRESHED = ("email", "email_ci", "username", "display_name", "app_role", "status")
_IN_IDS = text("SELECT value FROM json_each(:ids)")
_KNOWN_SQLITE = fastsql.Statement(
    select(app_members.c.remote_id, app_members.c.id, app_members.c.closed, *(app_members.c[f] for f in REFRESHED))
    .where(app_members.c.app_id == bindparam("app"), app_members.c.remote_id.in_(_IN_IDS)))  # fmt: skip
_INSERT_SQLITE = fastsql.Statement(insert(app_members).values(
    {f: bindparam(f) for f in ("id", "remote_id", *REFRESHED)}
    | {"workspace_id": bindparam("ws"), "app_id": bindparam("app"), "state": literal_column("'unmatched'"),
       "first_seen": bindparam("seen"), "last_seen": bindparam("seen")}))  # fmt: skip
_REFRESH_SQLITE = fastsql.Statement(update(app_members).where(app_members.c.id == bindparam("id")).values(
    {f: bindparam(f) for f in REFRESHED} | {"last_seen": bindparam("seen"), "closed": null()}))  # fmt: skip
_SEEN_SQLITE = fastsql.Statement(
    update(app_members).where(app_members.c.id.in_(_IN_IDS)).values(last_seen=bindparam("seen")))
_IMPORTED = ("id", "remote_id", *REFRESHED)
_UPSERT_PG = text(
    f"INSERT INTO app_members (workspace_id, app_id, state, first_seen, last_seen, {', '.join(_IMPORTED)}) "
    f"SELECT :ws, :app, 'unmatched', :seen, :seen, {', '.join('v.' + f for f in _IMPORTED)} "
    f"FROM {fastsql.recordset(_IMPORTED)} "
    "ON CONFLICT (app_id, remote_id) DO UPDATE SET "
    + ", ".join(f"{f} = excluded.{f}" for f in REFRESHED)
    + ", last_seen = excluded.last_seen, closed = NULL RETURNING (xmax = 0)"
).bindparams(bindparam("seen", type_=app_members.c.last_seen.type))


def _upsert_pg(conn: Connection, workspace_id: int, app_id: str, batch: Sequence[ImportedMember],
               seen_at: datetime) -> int:  # fmt: skip
    """``upsert_members`` on PostgreSQL in one round trip; a row the INSERT created has
    ``xmax = 0`` (an updated one carries the updating transaction's id), which counts the new."""
    rows = [{"id": new_id(), "remote_id": m.remote_id, "email": m.email, "email_ci": _email_ci(m.email),
             "username": m.username, "display_name": m.display_name, "app_role": m.app_role, "status": m.status}
            for m in batch]  # fmt: skip
    created = conn.execute(_UPSERT_PG, {"ws": workspace_id, "app": app_id, "seen": seen_at,
                                        "rows": fastsql.json_rows(rows)}).scalars()  # fmt: skip
    return sum(1 for new in created if new)


def close_vanished(conn: Connection, app_id: str, seen_at: datetime) -> int:
    """Members the import did not see are closed (state ``removed``), never deleted."""
    result = conn.execute(
        update(app_members)
        .where(app_members.c.app_id == app_id, OPEN, app_members.c.last_seen < seen_at)
        .values(closed=seen_at, state="removed", managed_user_id=None)
    )
    return result.rowcount


def replace_assets(conn: Connection, workspace_id: int, app_id: str, assets: Iterable[tuple[str, str | None, str | None]],
                   permissions: Iterable[tuple[str, str, str]]) -> dict[str, int]:  # fmt: skip
    """Make the app's assets (id, name, type) and permissions (asset id, remote id, permission)
    what the import saw, writing only the difference: a permission that did not change is not
    touched, so an import leaves no access history of its own (the history trigger records a
    real grant, change or revoke only) and costs what changed, not what the app holds. One
    read per table, one set-based statement per kind of change. Returns the counts written."""
    want_assets = {a: (n, t) for a, n, t in assets}
    want = {(a, r): p for a, r, p in permissions}
    have_assets = {a: (n, t) for a, n, t in conn.execute(
        select(app_assets.c.asset_id, app_assets.c.name, app_assets.c.type).where(app_assets.c.app_id == app_id))}  # fmt: skip
    have = {(a, r): p for a, r, p in conn.execute(
        select(app_permissions.c.asset_id, app_permissions.c.remote_id, app_permissions.c.permission)
        .where(app_permissions.c.app_id == app_id))}  # fmt: skip
    stale = [key for key in have if key not in want]
    fresh = [(key, p) for key, p in want.items() if key not in have]
    moved = [(key, p) for key, p in want.items() if key in have and have[key] != p]
    _delete_pairs(conn, app_permissions, app_id, ("asset_id", "remote_id"), stale)
    _delete_pairs(conn, app_assets, app_id, ("asset_id",), [(a,) for a in have_assets if a not in want_assets])
    new_assets = [{"app_id": app_id, "workspace_id": workspace_id, "asset_id": a, "name": n, "type": t}
                  for a, (n, t) in want_assets.items() if a not in have_assets]  # fmt: skip
    if new_assets:
        conn.execute(insert(app_assets), new_assets)
    renamed = [{"_a": a, "_n": n, "_t": t} for a, (n, t) in want_assets.items() if have_assets.get(a, (n, t)) != (n, t)]
    if renamed:
        conn.execute(update(app_assets).where(app_assets.c.app_id == app_id, app_assets.c.asset_id == bindparam("_a"))
                     .values(name=bindparam("_n"), type=bindparam("_t")), renamed)  # fmt: skip
    _insert_permissions(conn, workspace_id, app_id, fresh)
    if moved:
        conn.execute(update(app_permissions).where(app_permissions.c.app_id == app_id,
                                                   app_permissions.c.asset_id == bindparam("_a"),
                                                   app_permissions.c.remote_id == bindparam("_r"))
                     .values(permission=bindparam("_p")), [{"_a": a, "_r": r, "_p": p} for (a, r), p in moved])  # fmt: skip
    return {"granted": len(fresh), "changed": len(moved), "revoked": len(stale)}


_INSERT_PERMISSIONS_PG = text(
    "INSERT INTO app_permissions (app_id, workspace_id, asset_id, remote_id, permission) "
    f"SELECT :app_id, :ws, v.asset_id, v.remote_id, v.permission FROM {fastsql.recordset(('asset_id', 'remote_id', 'permission'))}"
)


def _insert_permissions(conn: Connection, workspace_id: int, app_id: str,
                        fresh: Sequence[tuple[tuple[str, str], str]]) -> None:  # fmt: skip
    """New permissions ((asset id, remote id), permission): PostgreSQL one INSERT over a JSON
    recordset (a multi-row VALUES list costs SQLAlchemy CPU per row to render), SQLite executemany."""
    if not fresh:
        return
    if conn.dialect.name == "postgresql":
        rows = [{"asset_id": a, "remote_id": r, "permission": p} for (a, r), p in fresh]
        conn.execute(_INSERT_PERMISSIONS_PG, {"app_id": app_id, "ws": workspace_id, "rows": fastsql.json_rows(rows)})
        return
    conn.execute(insert(app_permissions), [
        {"app_id": app_id, "workspace_id": workspace_id, "asset_id": a, "remote_id": r, "permission": p}
        for (a, r), p in fresh])  # fmt: skip


def _delete_pairs(conn: Connection, table: Any, app_id: str, columns: tuple[str, ...],
                  keys: Sequence[tuple[str, ...]]) -> None:  # fmt: skip
    """Delete the app's rows of ``table`` whose ``columns`` are one of ``keys``: PostgreSQL one
    statement over a JSON recordset, SQLite one prepared DELETE run over them."""
    if not keys:
        return
    if conn.dialect.name == "postgresql":
        names = ", ".join(columns)
        statement = text(f"DELETE FROM {table.name} WHERE app_id = :app_id AND ({names}) IN "
                         f"(SELECT {names} FROM {fastsql.recordset(columns)})")  # fmt: skip
        rows = [dict(zip(columns, k, strict=True)) for k in keys]
        conn.execute(statement, {"app_id": app_id, "rows": fastsql.json_rows(rows)})
        return
    where = [table.c.app_id == app_id, *(table.c[c] == bindparam(f"_{c}") for c in columns)]
    conn.execute(delete(table).where(*where), [{f"_{c}": k[i] for i, c in enumerate(columns)} for k in keys])


def open_members(conn: Connection, app_id: str) -> list[Any]:
    return list(conn.execute(select(app_members).where(app_members.c.app_id == app_id, OPEN)))


class MemberState(NamedTuple):
    """What reconciliation reads of a member row (``open_member_states``)."""

    id: str
    remote_id: str
    email: str | None
    username: str | None
    display_name: str | None
    app_role: str | None
    status: str
    state: str
    user_id: str | None
    bridge_role: str | None
    match_source: str | None
    managed_user_id: str | None
    exempt_reason: str | None
    conflicts: str | None


_OPEN_STATES = fastsql.Statement(select(*(app_members.c[name] for name in MemberState._fields))
                                 .where(app_members.c.app_id == bindparam("app"), OPEN))  # fmt: skip


def open_member_states(conn: Connection, app_id: str) -> list[MemberState]:
    """The app's open members as reconciliation reads them: only the columns it uses (no
    timestamps to parse), as named tuples, read on the driver (``fastsql``). A SQLAlchemy
    ``Row`` costs ~1.5 µs per attribute read, and its result layer more per row: at 50,000
    members that was a second of a check's CPU."""
    return [MemberState._make(row) for row in fastsql.fetchall(conn, _OPEN_STATES, {"app": app_id})]


def permissions_by_member(conn: Connection, app_id: str) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    query = select(app_permissions.c.remote_id, app_permissions.c.asset_id, app_permissions.c.permission).where(
        app_permissions.c.app_id == app_id
    )
    for remote_id, asset_id, permission in conn.execute(query):
        out[remote_id].append((asset_id, permission))
    return out


def get_member(conn: Connection, app_id: str, member_id: str) -> Any | None:
    return conn.execute(select(app_members).where(app_members.c.app_id == app_id, app_members.c.id == member_id)).first()


def set_member(conn: Connection, member_id: str, **values: Any) -> None:
    conn.execute(update(app_members).where(app_members.c.id == member_id).values(**values))



def set_members(conn: Connection, changes: Sequence[dict[str, Any]], fields: Sequence[str]) -> None:
    """Many members' ``fields`` (string columns) at once, each change a dict with ``id`` and the
    fields: PostgreSQL one ``UPDATE ... FROM json_to_recordset(...)``; SQLite one prepared UPDATE
    run over them all (``executemany``), never a statement per member from Python."""
    if not changes:
        return
    if conn.dialect.name == "postgresql":
        columns = ", ".join(f"{f} = v.{f}" for f in fields)
        statement = text(f"UPDATE app_members AS m SET {columns} FROM {fastsql.recordset(('id', *fields))} "
                         "WHERE m.id = v.id")  # fmt: skip
        conn.execute(statement, {"rows": fastsql.json_rows([{f: c[f] for f in ("id", *fields)} for c in changes])})
        return
    fastsql.executemany(conn, _set_sqlite(tuple(fields)), changes)


@functools.lru_cache(maxsize=32)
def _set_sqlite(fields: tuple[str, ...]) -> fastsql.Statement:
    """``set_members``' statement on SQLite, run on the driver (``fastsql``): SQLAlchemy's
    executemany bound each row's values in Python, 5 % of a first check at 50,000 members."""
    return fastsql.Statement(update(app_members).where(app_members.c.id == bindparam("id"))
                             .values({f: bindparam(f) for f in fields}))  # fmt: skip


def grant_permission(conn: Connection, workspace_id: int, app_id: str, asset_id: str, remote_id: str, permission: str) -> None:
    revoke_permission(conn, app_id, asset_id, remote_id)
    conn.execute(insert(app_permissions).values(app_id=app_id, workspace_id=workspace_id, asset_id=asset_id,
                                                remote_id=remote_id, permission=permission))  # fmt: skip


def revoke_permission(conn: Connection, app_id: str, asset_id: str | None, remote_id: str) -> None:
    where = [app_permissions.c.app_id == app_id, app_permissions.c.remote_id == remote_id]
    if asset_id is not None:
        where.append(app_permissions.c.asset_id == asset_id)
    conn.execute(delete(app_permissions).where(and_(*where)))


def close_member(conn: Connection, app_id: str, member_id: str, remote_id: str) -> None:
    set_member(conn, member_id, closed=now(), state="removed", managed_user_id=None)
    revoke_permission(conn, app_id, None, remote_id)


def members_page(conn: Connection, app_id: str, state: str | None, after: str | None, limit: int) -> list[Any]:
    """Up to ``limit`` members in ``state`` (None: every open one) ordered by id; ``after``: the id
    of the last one already sent."""
    query = select(app_members).where(app_members.c.app_id == app_id)
    if state == "removed":
        query = query.where(app_members.c.state == "removed")
    elif state is not None:
        query = query.where(app_members.c.state == state, OPEN)
    else:
        query = query.where(OPEN)
    return list(conn.execute(paging.window(query, (app_members.c.id,), None if after is None else (after,), limit)))


def permissions_of(conn: Connection, app_id: str, remote_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """``permissions_by_member`` for a few members (a page), not the whole app."""
    wanted = sorted(set(remote_ids))
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if not wanted:
        return out
    # Sorted here, not by the query: an ORDER BY asset_id made SQLite walk the app's every
    # permission in primary-key order instead of seeking these members (ix_app_permissions_member).
    query = select(app_permissions.c.remote_id, app_permissions.c.asset_id, app_permissions.c.permission).where(
        app_permissions.c.app_id == app_id, app_permissions.c.remote_id.in_(wanted))  # fmt: skip
    for remote_id, asset_id, permission in conn.execute(query):
        out[remote_id].append((asset_id, permission))
    for grants in out.values():
        grants.sort()
    return out


def assets_page(conn: Connection, app_id: str, after: str | None, limit: int) -> list[Any]:
    """Up to ``limit`` of the app's assets ordered by asset id; ``after``: the last id already sent."""
    query = select(app_assets).where(app_assets.c.app_id == app_id)
    return list(conn.execute(paging.window(query, (app_assets.c.asset_id,), None if after is None else (after,), limit)))


def grants_on(conn: Connection, app_id: str, asset_ids: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """Who holds which permission on each of ``asset_ids``."""
    wanted = sorted(set(asset_ids))
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    if not wanted:
        return out
    query = (select(app_permissions.c.asset_id, app_permissions.c.remote_id, app_permissions.c.permission)
             .where(app_permissions.c.app_id == app_id, app_permissions.c.asset_id.in_(wanted))
             .order_by(app_permissions.c.asset_id, app_permissions.c.remote_id))  # fmt: skip
    for asset_id, remote_id, permission in conn.execute(query):
        out[asset_id].append({"remote_id": remote_id, "permission": permission})
    return out


SORT_KEYS = {"email": app_members.c.email_ci, "name": app_members.c.display_name, "role": app_members.c.app_role}


def _in_set(query: Any, app_id: str, state: str, search: str | None) -> Any:
    """``query`` narrowed to the open members of ``state`` (or the removed ones) whose email,
    display name or username contains ``search`` (case-insensitive; LIKE wildcards are literal)."""
    query = query.where(app_members.c.app_id == app_id, app_members.c.state == state)
    if state != "removed":
        query = query.where(OPEN)
    if search:
        like = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(*(func.lower(col).like(like, escape="\\") for col in
                                  (app_members.c.email, app_members.c.display_name, app_members.c.username))))  # fmt: skip
    return query


def sort_key(sort: str) -> tuple[Any, Any]:
    """The keyset of a sorted member list: (the sort column, NULL as '', then id): unique, total.
    The '' is a literal, not a parameter, so both databases match it to the sort's index."""
    return func.coalesce(SORT_KEYS[sort], literal_column("''")), app_members.c.id


def search_page(conn: Connection, app_id: str, state: str, search: str | None, sort: str,
                after: tuple[str, str] | None, limit: int) -> list[Any]:  # fmt: skip
    """Up to ``limit`` members of a set, searched, ordered on ``sort_key(sort)``, strictly after the
    position ``after`` (keyset: a deep page reads what the first page reads, not the rows before)."""
    key = sort_key(sort)
    query = _in_set(select(app_members), app_id, state, search)
    if after is not None:  # a row value: an index range on both databases (an OR of terms is not, on PostgreSQL)
        query = query.where(tuple_(*key) > tuple_(*after))
    return list(conn.execute(query.order_by(*key).limit(limit)))


def count_in_set(conn: Connection, app_id: str, state: str, search: str | None) -> int:
    return int(conn.execute(_in_set(select(func.count()).select_from(app_members), app_id, state, search)).scalar_one())
