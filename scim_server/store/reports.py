"""Deprovision reports and their entries: all the SQL that reads and writes them.

A report collects an app's entries while ``pending``; applying it makes it ``applying`` (removals
queued as one job) and it settles from its entries: ``applied`` when every removal decided on was
done, ``failed`` when one failed (with the reason on the entry). Entries: ``pending`` / ``held``
(open), ``removed``, ``failed``, ``exempted``, ``skipped``, ``withdrawn``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Connection, bindparam, func, select, update

from mapping import DeprovisionReason
from scim_server import notify
from scim_server.audit.log import append as audit
from scim_server.store import fastsql, paging
from scim_server.store.app_models import DeprovisionEntry, DeprovisionReport
from scim_server.store.db import new_id, now

reports = DeprovisionReport.__table__
entries = DeprovisionEntry.__table__
OPEN = ("pending", "held")
TO_REMOVE = ("pending", "held", "failed")  # what applying (or retrying) a report still has to remove
GUARD_ACTOR = "guard"  # the actor of a removal the mass-removal guard held


class ReportNotFound(LookupError):
    """No report with that id in the workspace: a 404 on every face."""


def pending_report(conn: Connection, ws: int, app_id: str) -> str:
    """The app's report collecting entries, created on first need."""
    found = conn.execute(select(reports.c.id).where(reports.c.app_id == app_id, reports.c.status == "pending")).scalar()
    if found is not None:
        return str(found)
    report_id = new_id()
    conn.execute(reports.insert().values(id=report_id, workspace_id=ws, app_id=app_id, status="pending", created=now()))
    return report_id


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry to report: ``member`` (a ``mapping.AppMember``), its directory user, the reason,
    and the status (``pending``, or ``held`` by the mass-removal guard)."""

    member: Any
    user_id: str | None
    reason: str
    status: str


def add_entry(conn: Connection, ws: int, app_id: str, member: Any, user_id: str | None, reason: str,
              status: str) -> None:  # fmt: skip
    """Report ``member`` (a ``mapping.AppMember``) unless it already has an open entry; the entry
    keeps who it is and the access at stake as they are now."""
    add_entries(conn, ws, app_id, [NewEntry(member, user_id, reason, status)])


def add_entries(conn: Connection, ws: int, app_id: str, wanted: Sequence[NewEntry]) -> int:
    """``add_entry`` for many members at once (a check that finds a thousand departed users):
    one read of the open entries, one INSERT, one notification naming them all (merged as the
    hook merges one by one), instead of ~8 statements per member. A member with an open entry,
    or listed twice, is reported once. Returns how many entries were added."""
    ids = [e.member.id for e in wanted]
    if not ids:
        return 0
    open_now = set(conn.execute(select(entries.c.member_id).where(entries.c.app_id == app_id,
                                                                   entries.c.status.in_(OPEN))).scalars())  # fmt: skip
    fresh: list[NewEntry] = []
    for e in wanted:
        if e.member.id not in open_now:
            open_now.add(e.member.id)
            fresh.append(e)
    if not fresh:
        return 0
    report_id = pending_report(conn, ws, app_id)
    rows = [{"id": new_id(), "workspace_id": ws, "app_id": app_id, "report_id": report_id, "member_id": e.member.id,
             "user_id": e.user_id, "reason": e.reason, "status": e.status, "email": e.member.email,
             "display_name": e.member.display_name or e.member.username, "app_role": e.member.app_role or None,
             "assets": orjson.dumps([{"asset_id": a, "permission": p} for a, p in e.member.assets]).decode(),
             "created": (at := now()), "updated": at} for e in fresh]  # fmt: skip
    _insert_and_notify(conn, ws, report_id, rows)
    for e in fresh:
        if e.status == "held":  # a removal the mass-removal guard refused to send: on the trail as denied
            audit(conn, ws, GUARD_ACTOR, "app.member.remove", "AppMember", e.member.id, outcome="denied",
                  detail={"app_id": app_id, "cause": e.reason, "held_by": "mass-removal guard", "user_id": e.user_id},
                  app_id=app_id, target_display=e.member.email or e.member.username)  # fmt: skip
    return len(fresh)


def _insert_and_notify(conn: Connection, ws: int, report_id: str, rows: list[dict[str, Any]]) -> None:
    """Insert the entries and tell the app's owners and webhooks (after commit): the first entry
    alone with its hook (which opens or updates the report's message, and sees whether the
    report was empty), then the rest in one INSERT, merged into that message in one step as the
    hook would merge them one at a time."""
    conn.execute(entries.insert(), rows[:1])
    notify.report_entry(conn, report_id, rows[0]["member_id"])
    if len(rows) > 1:
        conn.execute(entries.insert(), rows[1:])
        people = [{"member_id": r["member_id"], "email": r["email"], "display_name": r["display_name"],
                   "app_role": r["app_role"], "reason": r["reason"], "held": r["status"] == "held"} for r in rows[1:]]  # fmt: skip
        notify.enqueue(conn, ws, "report.updated", {"report_id": report_id, "opened": False, "people": people},
                       dedupe_key=f"report:{report_id}", merge=("people",))  # fmt: skip


def withdraw_many(conn: Connection, app_id: str, member_ids: Sequence[str]) -> None:
    """``withdraw`` for many members: one UPDATE per 500 of them."""
    for start in range(0, len(member_ids), 500):
        chunk = sorted(set(member_ids[start : start + 500]))
        conn.execute(update(entries).where(entries.c.app_id == app_id, entries.c.member_id.in_(chunk),
                                           entries.c.status.in_(OPEN)).values(status="withdrawn", updated=now()))  # fmt: skip


def withdraw(conn: Connection, app_id: str, member_id: str) -> None:
    conn.execute(update(entries).where(entries.c.app_id == app_id, entries.c.member_id == member_id,
                                       entries.c.status.in_(OPEN)).values(status="withdrawn", updated=now()))  # fmt: skip


def hold(conn: Connection, app_id: str, reason: str) -> None:
    """Say on the app's pending report why the mass-removal guard held its removals."""
    conn.execute(update(reports).where(reports.c.app_id == app_id, reports.c.status == "pending")
                 .values(held_reason=reason))  # fmt: skip
    notify.guard_held(conn, app_id, reason)


def reported(conn: Connection, app_id: str, member_ids: Iterable[str] | None = None) -> dict[str, DeprovisionReason]:
    """Member id -> reason, for the app's open entries (what mapping calls ``Actual.reported``);
    with ``member_ids``, those members' only (a slice: no need to carry the app's other entries)."""
    query = select(entries.c.member_id, entries.c.reason).where(entries.c.app_id == app_id, entries.c.status.in_(OPEN))
    if member_ids is not None:
        wanted = sorted(set(member_ids))
        if not wanted:
            return {}
        query = query.where(entries.c.member_id.in_(wanted))
    return {member_id: cast(DeprovisionReason, reason) for member_id, reason in conn.execute(query)}


_HELD_SINCE = fastsql.Statement(select(func.count()).where(
    entries.c.app_id == bindparam("app"), entries.c.status == bindparam("held"), entries.c.created >= bindparam("since")))  # fmt: skip


def held_since(conn: Connection, app_id: str, since: datetime) -> int:
    """How many removals of the app the mass-removal guard held since ``since`` (every slice's
    plan asks: precompiled)."""
    row = fastsql.fetchone(conn, _HELD_SINCE, {"app": app_id, "held": "held",
                                               "since": fastsql.ts_in(conn.dialect.name, since)})  # fmt: skip
    return int(row[0] if row else 0)


def get_report(conn: Connection, ws: int, report_id: str, *, for_update: bool = False) -> Any:
    query = select(reports).where(reports.c.workspace_id == ws, reports.c.id == report_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise ReportNotFound(report_id)
    return row


def list_reports(conn: Connection, ws: int, app_id: str | None, status: str | None,
                 after: tuple[datetime, str] | None, limit: int) -> list[Any]:  # fmt: skip
    query = select(reports).where(reports.c.workspace_id == ws)
    if app_id is not None:
        query = query.where(reports.c.app_id == app_id)
    if status is not None:
        query = query.where(reports.c.status == status)
    return list(conn.execute(paging.window(query, (reports.c.created, reports.c.id), after, limit)))


def entries_of(conn: Connection, report_ids: Iterable[str]) -> dict[str, list[Any]]:
    wanted = sorted(set(report_ids))
    out: dict[str, list[Any]] = {rid: [] for rid in wanted}
    if wanted:
        query = select(entries).where(entries.c.report_id.in_(wanted)).order_by(entries.c.created, entries.c.id)
        for row in conn.execute(query):
            out[row.report_id].append(row)
    return out


def decide(conn: Connection, entry_id: str, decision: str, reason: str | None, by: str, status: str) -> None:
    conn.execute(update(entries).where(entries.c.id == entry_id).values(
        decision=decision, decision_reason=reason, decided_by=by, decided_at=now(), status=status, updated=now()))  # fmt: skip


def start_applying(conn: Connection, report_id: str, job_id: str | None, by: str) -> None:
    status = "applying" if job_id is not None else "applied"
    conn.execute(update(reports).where(reports.c.id == report_id)
                 .values(status=status, applied=now(), applied_by=by, job_id=job_id))  # fmt: skip


def to_remove(conn: Connection, report_id: str) -> list[Any]:
    """The entries applying the report still has to remove (decided ``remove``, not done yet)."""
    query = select(entries).where(entries.c.report_id == report_id, entries.c.decision == "remove",
                                  entries.c.status.in_(TO_REMOVE))  # fmt: skip
    return list(conn.execute(query))


def mark_removed(conn: Connection, app_id: str, member_id: str, note: str | None = None) -> None:
    """The member's removal was done (and verified, or confirmed by an admin)."""
    conn.execute(update(entries).where(entries.c.app_id == app_id, entries.c.member_id == member_id,
                                       entries.c.status.in_(TO_REMOVE))
                 .values(status="removed", error=note, updated=now()))  # fmt: skip


def mark_failed(conn: Connection, report_id: str, member_id: str, error: str) -> None:
    conn.execute(update(entries).where(entries.c.report_id == report_id, entries.c.member_id == member_id,
                                       entries.c.status.in_(TO_REMOVE))
                 .values(status="failed", error=error[:2000], updated=now()))  # fmt: skip


def settle(conn: Connection, report_id: str) -> str:
    """Set an applying report's status from its entries: still ``applying`` while a removal decided on
    is open, then ``failed`` if one failed, else ``applied``. Returns the status."""
    counts: dict[str, int] = dict(conn.execute(select(entries.c.status, func.count()).where(
        entries.c.report_id == report_id, entries.c.decision == "remove").group_by(entries.c.status)).all())  # fmt: skip
    status = "applying" if counts.get("pending") or counts.get("held") else "failed" if counts.get("failed") else "applied"
    conn.execute(update(reports).where(reports.c.id == report_id, reports.c.status.in_(("applying", "failed", "applied")))
                 .values(status=status))  # fmt: skip
    return status
