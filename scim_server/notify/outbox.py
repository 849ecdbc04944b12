"""Recording notifications: ``enqueue`` writes an outbox row in the caller's transaction.

The hooks below are what the report, guard and job code call (one line each, where the change
happens); they only read what the message will need and call ``enqueue``. Nothing is sent here:
the background loop (``dispatch.py``) does it after commit, so the change never waits on a mail
server or a webhook, and a change that rolls back sends nothing.

Merging: while an event with the same ``dedupe_key`` is still ``open`` (not yet dispatched), a new
one merges into it (``merge`` lists are concatenated, other keys overwritten), so a reconciliation
that reports twenty people produces one message naming the twenty.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select, update

from scim_server.notify.tables import NotifyEvent
from scim_server.store.app_models import App, AppMember, DeprovisionEntry, DeprovisionReport, Job
from scim_server.store.db import new_id, now

events = NotifyEvent.__table__
MAX_LISTED = 200  # people named in one message; the console lists them all
KINDS = ("report.opened", "report.updated", "guard.held", "job.failed", "report.reminder")
_reports, _entries, _jobs, _apps = DeprovisionReport.__table__, DeprovisionEntry.__table__, Job.__table__, App.__table__
_members = AppMember.__table__


def enqueue(conn: Connection, workspace_id: int, kind: str, data: dict[str, Any], *,
            dedupe_key: str | None = None, merge: tuple[str, ...] = ()) -> str:  # fmt: skip
    """Record one notification in ``conn``'s transaction; returns its id (the open one merged into,
    when ``dedupe_key`` matches one)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if dedupe_key is not None:
        query = select(events.c.id, events.c.data).where(
            events.c.workspace_id == workspace_id, events.c.dedupe_key == dedupe_key, events.c.status == "open")
        found = conn.execute(query.with_for_update()).first()
        if found is not None:
            merged = _merge(orjson.loads(found.data), data, merge)
            conn.execute(update(events).where(events.c.id == found.id)
                         .values(kind=_stronger(kind, merged), data=orjson.dumps(merged).decode()))  # fmt: skip
            return str(found.id)
    event_id = new_id()
    conn.execute(insert(events).values(id=event_id, workspace_id=workspace_id, kind=_stronger(kind, data),
                                       dedupe_key=dedupe_key, status="open", data=orjson.dumps(data).decode(),
                                       created=now()))  # fmt: skip
    return event_id


def _merge(old: dict[str, Any], new: dict[str, Any], lists: tuple[str, ...]) -> dict[str, Any]:
    """``new`` over ``old``; the ``lists`` concatenated without repeats, each kept to ``MAX_LISTED``
    items (``<key>_total`` counts them all: a message names the first ones and says how many)."""
    out = old | {k: v for k, v in new.items() if k not in lists and v is not None}
    for key in lists:
        kept, added = list(old.get(key, [])), list(new.get(key, []))
        total = int(old.get(f"{key}_total", len(kept)))
        if len(kept) < MAX_LISTED:
            seen = {orjson.dumps(v) for v in kept}
            added = [v for v in added if orjson.dumps(v) not in seen]
            kept += added[: MAX_LISTED - len(kept)]
        out[key], out[f"{key}_total"] = kept, total + len(added)
    out["opened"] = bool(old.get("opened") or new.get("opened"))
    return out


def _stronger(kind: str, data: dict[str, Any]) -> str:
    """A report event says what matters most: the guard holding removals, else a new report."""
    if kind.startswith("report.") and kind != "report.reminder" or kind == "guard.held":
        if data.get("held_reason"):
            return "guard.held"
        return "report.opened" if data.get("opened") else "report.updated"
    return kind


def _app_label(conn: Connection, app_id: str) -> dict[str, Any]:
    row = conn.execute(select(_apps.c.label, _apps.c.kind).where(_apps.c.id == app_id)).first()
    return {"app_id": app_id, "app_label": row.label if row else app_id, "app_kind": row.kind if row else None}


def report_entry(conn: Connection, report_id: str, member_id: str) -> None:
    """Hook: an entry for ``member_id`` was just added to ``report_id`` (``store.reports.add_entry``)."""
    report = conn.execute(select(_reports).where(_reports.c.id == report_id)).first()
    entry = conn.execute(select(_entries).where(_entries.c.report_id == report_id, _entries.c.member_id == member_id)
                         .order_by(_entries.c.created.desc())).first()  # fmt: skip
    if report is None or entry is None:
        return
    total = conn.execute(select(func.count()).where(_entries.c.report_id == report_id)).scalar() or 0
    person = {"member_id": member_id, "email": entry.email, "display_name": entry.display_name,
              "app_role": entry.app_role, "reason": entry.reason, "held": entry.status == "held"}  # fmt: skip
    data = {"report_id": report_id, **_app_label(conn, report.app_id), "opened": total <= 1, "people": [person]}
    enqueue(conn, report.workspace_id, "report.updated", data, dedupe_key=f"report:{report_id}", merge=("people",))


def guard_held(conn: Connection, app_id: str, reason: str) -> None:
    """Hook: the mass-removal guard held the app's removals on its pending report (``store.reports.hold``)."""
    report = conn.execute(select(_reports).where(_reports.c.app_id == app_id, _reports.c.status == "pending")).first()
    if report is None:
        return
    data = {"report_id": report.id, **_app_label(conn, app_id), "held_reason": reason, "people": []}
    enqueue(conn, report.workspace_id, "guard.held", data, dedupe_key=f"report:{report.id}", merge=("people",))


def job_failed(conn: Connection, job_id: str) -> None:
    """Hook: a job failed for good (``jobs.queue.fail`` with no retry left)."""
    job = conn.execute(select(_jobs).where(_jobs.c.id == job_id)).first()
    if job is None or job.status != "failed":
        return
    payload = orjson.loads(job.payload or "{}")
    person = {k: payload[k] for k in ("member_id", "user_id", "remote_id") if isinstance(payload.get(k), str)}
    member = conn.execute(select(_members.c.email, _members.c.display_name)
                          .where(_members.c.id == person.get("member_id", ""))).first()  # fmt: skip
    if member is not None:
        person |= {"email": member.email, "display_name": member.display_name}
    data = {"job_id": job.id, "job_kind": job.kind, "error": (job.error or "")[:500],
            **(_app_label(conn, job.app_id) if job.app_id else {}), "people": [person] if person else []}  # fmt: skip
    enqueue(conn, job.workspace_id, "job.failed", data)
