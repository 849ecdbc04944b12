"""Finished notification deliveries (delivered, failed for good, cancelled) and the dispatched
events left without deliveries are pruned by the scheduler's prune pass once older than the
retention, in batches, audited per workspace; pending deliveries, their events, open events and
recent rows stay. Both databases."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select

from scim_server.jobs.scheduler import Scheduler
from scim_server.notify import deliveries as notify_deliveries
from scim_server.notify.deliveries import deliveries, events
from scim_server.store import tenancy
from scim_server.store.db import Database, new_id, now
from scim_server.store.models import AuditEvent
from tests.jobs.test_queue import db  # noqa: F401  (a migrated Database on either database)

WEEK, OLD, RECENT = timedelta(days=7), timedelta(days=8), timedelta(hours=1)


def event(conn: Connection, ws: int, age: timedelta, status: str = "dispatched") -> str:
    at = now() - age
    event_id = new_id()
    conn.execute(insert(events).values(id=event_id, workspace_id=ws, kind="job.failed", dedupe_key=None, status=status,
                                       data="{}", created=at, dispatched=at if status == "dispatched" else None))  # fmt: skip
    return event_id


def delivery_rows(conn: Connection, ws: int, event_id: str, n: int, status: str, age: timedelta) -> list[str]:
    at = now() - age
    values: list[dict[str, Any]] = [
        {"id": new_id(), "workspace_id": ws, "event_id": event_id, "channel": "email", "webhook_id": None,
         "status": status, "attempts": 1, "next_at": at, "created": at,
         "delivered": at if status == "delivered" else None}
        for _ in range(n)
    ]  # fmt: skip
    conn.execute(insert(deliveries), values)
    return [v["id"] for v in values]


def test_finished_notifications_are_pruned_in_batches_and_audited(db: Database) -> None:  # noqa: F811
    ws = db.write_sync(lambda c: tenancy.ensure_workspace(c, "notify"))
    other = db.write_sync(lambda c: tenancy.ensure_workspace(c, "other"))

    def seed(c: Connection) -> dict[str, list[str]]:
        done = event(c, ws, OLD)  # every delivery finished long ago: it goes, then so does the event
        delivery_rows(c, ws, done, notify_deliveries.PRUNE_BATCH + 5, "delivered", OLD)
        delivery_rows(c, ws, done, 2, "failed", OLD)
        dead = event(c, other, OLD)
        delivery_rows(c, other, dead, 1, "cancelled", OLD)
        waiting = event(c, ws, OLD)  # a pending delivery keeps itself and its event
        pending = delivery_rows(c, ws, waiting, 1, "pending", OLD)
        mixed = event(c, ws, OLD)  # an old event with a recent delivery: both stay
        recent = delivery_rows(c, ws, mixed, 2, "delivered", RECENT)
        delivery_rows(c, ws, mixed, 1, "failed", OLD)
        fresh = event(c, ws, RECENT)
        recent += delivery_rows(c, ws, fresh, 1, "failed", RECENT)
        still_open = event(c, ws, OLD, status="open")  # not dispatched yet
        return {"deliveries": pending + recent, "events": [waiting, mixed, fresh, still_open]}

    kept = db.write_sync(seed)

    async def go() -> int:
        db.start()
        return await Scheduler(db, retention_seconds=WEEK.total_seconds()).prune()

    assert asyncio.run(go()) == 0  # the return counts jobs; there were none
    left = db.read_sync(lambda c: {"deliveries": c.execute(select(deliveries.c.id)).scalars().all(),
                                   "events": c.execute(select(events.c.id)).scalars().all()})  # fmt: skip
    assert {k: sorted(v) for k, v in left.items()} == {k: sorted(v) for k, v in kept.items()}
    audit = AuditEvent.__table__
    recorded = db.read_sync(lambda c: c.execute(select(audit.c.workspace_id, audit.c.actor, audit.c.detail)
                                                .where(audit.c.action == "notifications.prune")).all())  # fmt: skip
    totals: dict[int, list[int]] = {}
    for workspace_id, actor, detail in recorded:
        assert actor.startswith("scheduler:")
        counts = orjson.loads(detail)
        total = totals.setdefault(workspace_id, [0, 0])
        total[0] += counts["deliveries"]
        total[1] += counts["events"]
    assert totals == {ws: [notify_deliveries.PRUNE_BATCH + 5 + 2 + 1, 1], other: [1, 1]}
    assert len([r for r in recorded if r[0] == ws]) == 2  # two batches: the first came full


def test_no_retention_prunes_no_notification(db: Database) -> None:  # noqa: F811
    ws = db.write_sync(lambda c: tenancy.ensure_workspace(c, "notify"))
    db.write_sync(lambda c: delivery_rows(c, ws, event(c, ws, timedelta(days=400)), 3, "delivered", timedelta(days=400)))

    async def go() -> int:
        db.start()
        return await Scheduler(db, retention_seconds=None).prune()

    assert asyncio.run(go()) == 0
    assert len(db.read_sync(lambda c: c.execute(select(deliveries.c.id)).all())) == 3
