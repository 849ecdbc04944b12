"""Completed jobs older than the retention are pruned (audited, in batches); live, failed,
cancelled and recent jobs stay; the in-flight query seeks an index instead of walking history.
Both databases."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, text

from scim_server import reconcile
from scim_server.jobs import queue, scheduler
from scim_server.jobs.scheduler import Scheduler
from scim_server.store.db import Database, new_id, now
from scim_server.store.models import AuditEvent


def rows(conn: Connection, ws: int, count: int, status: str, age: timedelta, app_id: str = "a") -> list[str]:
    at = now() - age
    values: list[dict[str, Any]] = [
        {"id": new_id(), "workspace_id": ws, "app_id": app_id, "kind": "remove", "status": status,
         "payload": orjson.dumps({"action": "remove"}).decode(), "attempts": 1, "max_attempts": 8,
         "progress_done": 0, "run_after": at, "created": at, "finished": None if status in queue.LIVE else at}
        for _ in range(count)
    ]  # fmt: skip
    conn.execute(insert(queue.jobs), values)
    return [v["id"] for v in values]


def by_status(db: Database) -> dict[str, int]:
    query = select(queue.jobs.c.status, queue.jobs.c.id)
    counted: dict[str, int] = {}
    for status, _ in db.read_sync(lambda c: c.execute(query).all()):
        counted[status] = counted.get(status, 0) + 1
    return counted


def test_old_completed_jobs_are_pruned_in_batches_and_audited(db: Database, ws: int) -> None:
    week, hour = timedelta(days=8), timedelta(hours=1)
    db.write_sync(lambda c: rows(c, ws, scheduler.PRUNE_BATCH + 7, "completed", week))
    recent = db.write_sync(lambda c: rows(c, ws, 3, "completed", hour))
    kept = db.write_sync(lambda c: rows(c, ws, 2, "failed", week) + rows(c, ws, 2, "cancelled", week)
                         + rows(c, ws, 2, "queued", week) + rows(c, ws, 1, "running", week))  # fmt: skip

    async def go() -> int:
        db.start()
        return await Scheduler(db, retention_seconds=timedelta(days=7).total_seconds()).prune()

    assert asyncio.run(go()) == scheduler.PRUNE_BATCH + 7
    left = set(db.read_sync(lambda c: c.execute(select(queue.jobs.c.id)).scalars().all()))
    assert left == set(recent) | set(kept)
    events = AuditEvent.__table__
    details = db.read_sync(lambda c: c.execute(
        select(events.c.detail).where(events.c.action == "jobs.prune", events.c.workspace_id == ws)).scalars().all())  # fmt: skip
    assert sum(orjson.loads(d)["count"] for d in details) == scheduler.PRUNE_BATCH + 7


def test_no_retention_prunes_nothing(db: Database, ws: int) -> None:
    db.write_sync(lambda c: rows(c, ws, 5, "completed", timedelta(days=400)))

    async def go() -> int:
        db.start()
        return await Scheduler(db, retention_seconds=None).prune()

    assert asyncio.run(go()) == 0 and by_status(db) == {"completed": 5}


def plan(conn: Connection, sql: str, params: dict[str, Any]) -> str:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        return "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {sql}"), params))
    return "\n".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"), params))


def test_in_flight_and_prune_queries_use_their_indexes(db: Database, ws: int) -> None:
    """The statements as the code compiles them, planned by the database: the in-flight query
    seeks its statuses ((app_id, status), or (workspace_id, status, ...)), the pruner (status,
    finished); neither walks the app's history (``ix_jobs_app``)."""
    db.write_sync(lambda c: rows(c, ws, 200, "completed", timedelta(days=1)))
    live = db.write_sync(lambda c: rows(c, ws, 2, "queued", timedelta(0)))

    def plans(conn: Connection) -> tuple[str, str, list[Any]]:
        jobs = queue.jobs
        in_flight = select(jobs.c.payload).where(
            jobs.c.workspace_id == ws, jobs.c.app_id == "a", jobs.c.status.in_(queue.LIVE),
            jobs.c.kind.in_(list(reconcile.APP_ACTIONS)))  # fmt: skip
        old = select(jobs.c.id).where(jobs.c.status == "completed", jobs.c.finished < now()).limit(10)
        compiled = [q.compile(conn, compile_kwargs={"literal_binds": True}) for q in (in_flight, old)]
        return plan(conn, str(compiled[0]), {}), plan(conn, str(compiled[1]), {}), reconcile._in_flight(conn, ws, "a")

    in_flight_plan, prune_plan, found = db.write_sync(plans)
    assert "ix_jobs_live" in in_flight_plan or "ix_jobs_ws_status" in in_flight_plan, in_flight_plan
    assert "ix_jobs_finished" in prune_plan, prune_plan
    assert len(found) == len(live)
