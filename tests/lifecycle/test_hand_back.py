"""Graceful shutdown of a worker: the job in hand stops at its next safe point and is handed
back (queued again, lease released, the attempt not counted), on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from scim_server.jobs import queue
from scim_server.jobs.worker import JobContext, Worker
from scim_server.settings import Settings
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    migrate.upgrade(db_url)
    database = Database(Settings(database_url=db_url))
    yield database
    database.close()


@pytest.fixture
def ws(db: Database) -> int:
    return db.write_sync(lambda conn: tenancy.ensure_workspace(conn, "lifecycle"))


def _stop_while_running(db: Database, handler: Any, reached: asyncio.Event) -> Worker:
    """Run a worker, set its stop as soon as the handler reached its point; the worker ends."""

    async def go() -> Worker:
        db.start()
        worker = Worker(db, {"x": handler}, lease_seconds=600, poll_seconds=0.05)
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        await asyncio.wait_for(reached.wait(), 20)
        stop.set()
        await asyncio.wait_for(running, 20)
        return worker

    return asyncio.run(go())


def _row(db: Database, job_id: str) -> Any:
    return db.read_sync(lambda c: c.execute(queue.jobs.select().where(queue.jobs.c.id == job_id)).first())


def test_stop_hands_back_a_job_between_steps(db: Database, ws: int) -> None:
    job_id = db.write_sync(lambda c: queue.enqueue(c, ws, "x", {}))
    steps: list[int] = []
    reached = asyncio.Event()

    async def handler(ctx: JobContext) -> dict[str, Any]:
        for step in range(1000):
            await ctx.ensure_live()  # the safe point before each effect
            steps.append(step)
            if step == 2:
                reached.set()
            await asyncio.sleep(0)  # lets the stop be seen, as a real effect's I/O would
        return {"steps": len(steps)}

    _stop_while_running(db, handler, reached)
    row = _row(db, job_id)
    assert 3 <= len(steps) < 1000, "the handler did not stop at a safe point"
    assert (row.status, row.lease_owner, row.lease_until, row.attempts) == ("queued", None, None, 0)

    # Another worker claims it at once (no lease to wait for) and finishes it.
    again = db.write_sync(lambda c: queue.claim(c, "w2", 30))
    assert again is not None and again.id == job_id and again.attempts == 1


def test_stop_interrupts_a_read_of_the_app_at_once(db: Database, ws: int) -> None:
    job_id = db.write_sync(lambda c: queue.enqueue(c, ws, "x", {}))
    reached = asyncio.Event()

    async def handler(ctx: JobContext) -> dict[str, Any]:
        async with ctx.interruptible():
            reached.set()
            await asyncio.Event().wait()  # a vendor read that never ends
        return {}

    _stop_while_running(db, handler, reached)
    row = _row(db, job_id)
    assert (row.status, row.lease_owner, row.attempts) == ("queued", None, 0)


def test_a_job_that_finishes_before_a_safe_point_completes(db: Database, ws: int) -> None:
    job_id = db.write_sync(lambda c: queue.enqueue(c, ws, "x", {}))
    reached = asyncio.Event()

    async def handler(ctx: JobContext) -> dict[str, Any]:
        reached.set()
        await asyncio.sleep(0.05)
        return {"done": True}

    _stop_while_running(db, handler, reached)
    assert db.read_sync(lambda c: queue.get(c, ws, job_id)).status == "completed"
