"""Reminders while a deprovision report stays unapplied: a ladder of delays from the report's
creation (default 1 day, 3 days), then one every ``every`` (default weekly).

``passed(at, since, ladder)`` is the whole decision, pure and clock-free: how many rungs lie
between ``since`` and ``at``. A report gets a reminder when more rungs have passed than it has
had reminders; a process that was down across several rungs sends one, not a burst.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from scim_server.notify.outbox import enqueue
from scim_server.notify.tables import NotifyReminder
from scim_server.settings import Settings
from scim_server.store.app_models import App, DeprovisionEntry, DeprovisionReport
from scim_server.store.db import iso_utc
from scim_server.store.fastsql import ts_out

reminders_t = NotifyReminder.__table__
_reports, _entries, _apps = DeprovisionReport.__table__, DeprovisionEntry.__table__, App.__table__
OPEN = ("pending", "held")
MAX_PEOPLE = 100  # a reminder names up to this many people; the console has the rest


@dataclass(frozen=True, slots=True)
class Ladder:
    after: tuple[timedelta, ...]
    every: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Ladder:
        after = tuple(timedelta(seconds=s) for s in sorted(settings.notify_reminder_after_seconds) if s > 0)
        return cls(after, timedelta(seconds=settings.notify_reminder_every_seconds))


def passed(at: datetime, since: datetime, ladder: Ladder) -> int:
    """How many reminder times lie in ``(since, at]``: the ladder's rungs, then one per ``every``
    after the last rung (or after ``since`` when the ladder is empty)."""
    age = at - since
    count = sum(1 for rung in ladder.after if age >= rung)
    last = ladder.after[-1] if ladder.after else timedelta(0)
    if age >= last and ladder.every > timedelta(0) and (count == len(ladder.after)):
        count += int((age - last) // ladder.every)
    return count


def queue_due(conn: Connection, at: datetime, ladder: Ladder) -> int:
    """Queue a ``report.reminder`` for each pending report with open entries that is due one at
    ``at``; returns how many were queued. A compare-and-set on the report's count keeps two
    processes from both sending the same reminder."""
    open_counts = (select(_entries.c.report_id, func.count().label("n")).where(_entries.c.status.in_(OPEN))
                   .group_by(_entries.c.report_id).subquery())  # fmt: skip
    rows = conn.execute(
        select(_reports.c.id, _reports.c.workspace_id, _reports.c.app_id, _reports.c.created, open_counts.c.n,
               reminders_t.c.sent)
        .join(open_counts, open_counts.c.report_id == _reports.c.id)
        .outerjoin(reminders_t, reminders_t.c.report_id == _reports.c.id)
        .where(_reports.c.status == "pending")
    ).all()  # fmt: skip
    queued = 0
    for report_id, ws, app_id, created, n, sent in rows:
        since = ts_out(created)
        due = passed(at, since, ladder)
        if due <= (sent or 0) or not _advance(conn, report_id, ws, sent, due, at):
            continue
        enqueue(conn, ws, "report.reminder", _data(conn, report_id, app_id, since, int(n), due))
        queued += 1
    return queued


def _advance(conn: Connection, report_id: str, ws: int, sent: int | None, due: int, at: datetime) -> bool:
    if sent is None:
        exists = conn.execute(select(reminders_t.c.sent).where(reminders_t.c.report_id == report_id)).first()
        if exists is not None:
            return False
        conn.execute(insert(reminders_t).values(report_id=report_id, workspace_id=ws, sent=due, last_at=at))
        return True
    moved = conn.execute(update(reminders_t).where(reminders_t.c.report_id == report_id, reminders_t.c.sent == sent)
                         .values(sent=due, last_at=at))  # fmt: skip
    return moved.rowcount == 1


def _data(conn: Connection, report_id: str, app_id: str, since: datetime, open_entries: int, number: int) -> dict[str, Any]:
    app = conn.execute(select(_apps.c.label, _apps.c.kind).where(_apps.c.id == app_id)).first()
    people = [{"member_id": e.member_id, "email": e.email, "display_name": e.display_name, "app_role": e.app_role,
               "reason": e.reason, "held": e.status == "held"}
              for e in conn.execute(select(_entries).where(_entries.c.report_id == report_id, _entries.c.status.in_(OPEN))
                                    .order_by(_entries.c.created, _entries.c.id).limit(MAX_PEOPLE))]  # fmt: skip
    return {"report_id": report_id, "app_id": app_id, "app_label": app.label if app else app_id,
            "app_kind": app.kind if app else None, "pending_since": iso_utc(since), "open_entries": open_entries,
            "reminder": number, "people": people}  # fmt: skip
