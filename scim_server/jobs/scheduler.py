"""The scheduler: queue each app's check for updates when it is due (daily by default), and
prune completed jobs, and finished notification deliveries, older than the retention
(``job_retention_seconds``).

One leader at a time: on PostgreSQL a session advisory lock, elsewhere a lease row renewed on
every tick; a follower simply skips the tick. Queuing is deduplicated per app, so two leaders
in a split second still queue one check. Pruning goes in batches, each its own short unit of
work (SQLite's writer is never held long), at most ``PRUNE_BATCHES`` per tick.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection, insert, select, text, update

from scim_server.audit.log import append as audit
from scim_server.jobs import queue
from scim_server.jobs.handlers import next_check
from scim_server.jobs.worker import worker_name
from scim_server.notify import deliveries
from scim_server.store import apps as app_store
from scim_server.store import feed
from scim_server.store.app_models import Lease
from scim_server.store.db import Database, now

log = logging.getLogger("scim_bridge.scheduler")
leases = Lease.__table__
ADVISORY_KEY = 0x5C1B_0001
PRUNE_BATCH = 2000
PRUNE_BATCHES = 25


def take_lease(conn: Connection, name: str, owner: str, seconds: float) -> bool:
    at = now()
    current = conn.execute(select(leases).where(leases.c.name == name)).first()
    if current is None:
        conn.execute(insert(leases).values(name=name, owner=owner, until=at + timedelta(seconds=seconds)))
        return True
    until = current.until if current.until.tzinfo else current.until.replace(tzinfo=at.tzinfo)
    if current.owner != owner and until > at:
        return False
    conn.execute(update(leases).where(leases.c.name == name).values(owner=owner, until=at + timedelta(seconds=seconds)))
    return True


def queue_due_checks(conn: Connection) -> int:
    queued = 0
    for app in app_store.due_for_check(conn, now()):
        if app.schedule == "manual":
            app_store.update_app(conn, app.workspace_id, app.id, {"next_check": now() + timedelta(days=3650)})
            continue
        queue.enqueue(conn, app.workspace_id, "check", {"reason": "schedule"}, app_id=app.id,
                      dedupe_key=f"{app.id}:check", created_by="scheduler")  # fmt: skip
        app_store.update_app(conn, app.workspace_id, app.id, {"next_check": next_check(app.schedule)})
        queued += 1
    return queued


def prune_jobs(conn: Connection, retention_seconds: float, actor: str) -> int:
    """One batch of pruning, audited per workspace (``jobs.prune``, with the count and cutoff)."""
    cutoff = now() - timedelta(seconds=retention_seconds)
    counts = queue.prune(conn, cutoff, PRUNE_BATCH)
    for workspace_id, count in sorted(counts.items()):
        audit(conn, workspace_id, actor, "jobs.prune", "Job", None,
              detail={"completed_before": cutoff.isoformat(), "count": count})  # fmt: skip
    return sum(counts.values())


@dataclass
class Scheduler:
    db: Database
    tick_seconds: float = 30.0
    retention_seconds: float | None = 7 * 86400.0
    name: str = field(default_factory=worker_name)
    _leader: bool = field(default=False, repr=False)

    async def run(self, stop: asyncio.Event, on_queued: object = None) -> None:
        while not stop.is_set():
            try:
                queued = await self.db.write(self._tick)
                if queued and callable(on_queued):
                    on_queued()
                if self._leader:
                    await self.prune()
            except Exception:
                log.exception("scheduler tick failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.tick_seconds)
            except TimeoutError:
                pass

    def _tick(self, conn: Connection) -> int:
        if conn.dialect.name == "postgresql":
            leader = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        else:
            leader = take_lease(conn, "scheduler", self.name, self.tick_seconds * 3)
        self._leader = bool(leader)
        return queue_due_checks(conn) if leader else 0

    async def prune(self) -> int:
        """Prune completed jobs past the retention, batch after batch while batches come full."""
        if self.retention_seconds is None:
            return 0
        retention, pruned = self.retention_seconds, 0
        for _ in range(PRUNE_BATCHES):
            count = await self.db.write(lambda conn: prune_jobs(conn, retention, f"scheduler:{self.name}"))
            pruned += count
            if count < PRUNE_BATCH:
                break
        await deliveries.prune_all(self.db, retention, f"scheduler:{self.name}")  # finished notifications
        await self.db.write(feed.prune)  # the directory changes every app has reconciled
        return pruned
