"""The point-in-time access report: who had which role and which asset permissions in an app
at an instant, and whether each account was matched, unmatched or exempted then (and why).

It replays ``member_history`` and ``permission_history`` (scim_server/store/history_models.py),
which database triggers write in the transaction of every change to ``app_members`` and
``app_permissions``: the latest history row of each account at or before ``at`` is the
account as it stood then, so the answer is exact by construction, whatever code path made the
change (import, match, exemption, removal, a job's re-read). Decision columns come from the
deprovision entries as they stood at ``at``; ``last_seen`` is the last successful import at or
after the account's first appearance and not after ``at`` (from the trail's ``app.check``).
The directory user's manager and department are as they are now (the directory keeps no
history of its own attributes).

Resolution: ``at`` is compared with the database clock of each change, microseconds on
PostgreSQL and milliseconds on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from scim_server.audit.access import PAGE, AppRef, Read, decisions, review_row, users
from scim_server.store.history_models import MemberHistory, PermissionHistory
from scim_server.store.models import AuditEvent

member_history = MemberHistory.__table__
permission_history = PermissionHistory.__table__
events = AuditEvent.__table__
mh, ph = member_history.c, permission_history.c


def _bind(conn: Connection, at: datetime) -> datetime:
    """``at`` as the column compares it: UTC (SQLite stores naive UTC text)."""
    utc = at.astimezone(UTC)
    return utc.replace(tzinfo=None) if conn.dialect.name == "sqlite" else utc


def grants_at(conn: Connection, app_id: str, remote_ids: list[str], at: datetime) -> dict[str, list[str]]:
    """``asset:permission`` held by each of ``remote_ids`` at ``at`` (the latest history row of
    each (account, asset) pair at or before it, unless that row is a revocation)."""
    held: dict[tuple[str, str], str | None] = {}
    query = (select(ph.remote_id, ph.asset_id, ph.permission)
             .where(ph.app_id == app_id, ph.remote_id.in_(remote_ids), ph.at <= _bind(conn, at))
             .order_by(ph.id))  # fmt: skip
    for remote_id, asset_id, permission in conn.execute(query):
        held[(remote_id, asset_id)] = permission
    out: dict[str, list[str]] = {}
    for (remote_id, asset_id), permission in sorted(held.items()):
        if permission is not None:
            out.setdefault(remote_id, []).append(f"{asset_id}:{permission}")
    return out


def _last_import(conn: Connection, workspace_id: int, app_id: str, at: datetime) -> datetime | None:
    query = select(func.max(events.c.at)).where(
        events.c.workspace_id == workspace_id, events.c.at <= _bind(conn, at), events.c.action == "app.check",
        events.c.target_id == app_id, events.c.outcome == "success")  # fmt: skip
    value = conn.execute(query).scalar()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=value.tzinfo or UTC) if value is not None else None


def page_at(conn: Connection, app: AppRef, at: datetime, after: str | None,
            limit: int = PAGE) -> tuple[list[dict[str, Any]], str | None]:  # fmt: skip
    """The review rows of up to ``limit`` accounts known by ``at``, ordered by member id after
    ``after``, and where the next page starts (None: this was the last)."""
    bound = _bind(conn, at)
    groups = (select(mh.member_id, func.max(mh.id).label("last"), func.min(mh.at).label("first"))
              .where(mh.app_id == app.id, mh.at <= bound)
              .group_by(mh.member_id).order_by(mh.member_id).limit(limit))  # fmt: skip
    if after is not None:
        groups = groups.where(mh.member_id > after)
    found = conn.execute(groups).all()
    if not found:
        return [], None
    following = str(found[-1].member_id) if len(found) == limit else None
    query = (select(member_history, users.c.user_name, users.c.doc)
             .join(users, users.c.id == mh.user_id, isouter=True)
             .where(mh.id.in_([g.last for g in found]), mh.closed.is_(None))
             .order_by(mh.member_id))  # fmt: skip
    rows = conn.execute(query).all()
    if not rows:
        return [], following
    first = {g.member_id: g.first for g in found}
    grants = grants_at(conn, app.id, sorted({r.remote_id for r in rows}), at)
    decided = decisions(conn, app.id, [r.member_id for r in rows], at.astimezone(UTC))
    imported = _last_import(conn, rows[0].workspace_id, app.id, at)
    out = []
    for r in rows:
        appeared = first[r.member_id]
        appeared = datetime.fromisoformat(appeared) if isinstance(appeared, str) else appeared
        appeared = appeared.replace(tzinfo=appeared.tzinfo or UTC)
        seen = imported if imported is not None and imported >= appeared else None
        out.append(review_row(app, r, r.member_id, grants, decided.get(r.member_id), seen))
    return out, following


def rows_at(read: Read, app: AppRef, at: datetime) -> Iterator[dict[str, Any]]:
    """Every row of the review at ``at``, one page in memory at a time."""
    after: str | None = None
    while True:
        batch, after = read(lambda conn, start=after: page_at(conn, app, at, start))  # type: ignore[misc]
        yield from batch
        if after is None:
            return


def accounts_at(conn: Connection, app: AppRef, member_ids: list[str], at: datetime) -> dict[str, dict[str, Any] | None]:
    """Each of ``member_ids`` as it stood at ``at`` (None: not in the app then, or closed)."""
    out: dict[str, dict[str, Any] | None] = dict.fromkeys(member_ids)
    if not member_ids:
        return out
    last = (select(func.max(mh.id)).where(mh.app_id == app.id, mh.member_id.in_(member_ids), mh.at <= _bind(conn, at))
            .group_by(mh.member_id))  # fmt: skip
    rows = conn.execute(select(member_history, users.c.user_name, users.c.doc)
                        .join(users, users.c.id == mh.user_id, isouter=True).where(mh.id.in_(last))).all()  # fmt: skip
    open_rows = [r for r in rows if r.closed is None]
    grants = grants_at(conn, app.id, sorted({r.remote_id for r in open_rows}), at)
    for r in open_rows:
        row = review_row(app, r, r.member_id, grants, None, None)
        out[r.member_id] = {k: v for k, v in row.items() if k not in ("decided_by", "decided_at", "applied",
                                                                      "verified_at", "last_seen")}  # fmt: skip
    return out
