"""The worker keeps up and is fair, on SQLite and PostgreSQL: several jobs in flight (bounded),
at most ``per_app`` per app across processes, the workspace and app with the least running served
first, planning jobs one at a time per app, and jobs that start at their due time, not at the poll.

Handlers block on events the test sets, and every wait is on a condition (no sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from scim_server.jobs import queue
from scim_server.jobs.worker import JobContext, Worker
from scim_server.store import tenancy
from scim_server.store.db import Database, now

POLL = 60.0  # a worker that only polled would time every test below out


class Gate:
    """Handlers that report when they start and wait until the test lets them finish."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []
        self.release: dict[str, asyncio.Event] = {}
        self.changed = asyncio.Event()
        self.running = 0
        self.peak = 0

    def handler(self, blocking: bool = True) -> Callable[[JobContext], Awaitable[dict[str, Any]]]:
        async def run(ctx: JobContext) -> dict[str, Any]:
            tag = str(ctx.job.payload["tag"])
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.started.append({"tag": tag, "app": ctx.job.app_id, "at": now()})
            self.changed.set()
            try:
                if blocking:
                    await self.release.setdefault(tag, asyncio.Event()).wait()
            finally:
                self.running -= 1
                self.changed.set()
            return {"tag": tag}

        return run

    def let(self, *tags: str) -> None:
        for tag in tags:
            self.release.setdefault(tag, asyncio.Event()).set()

    def tags(self) -> list[str]:
        return [s["tag"] for s in self.started]

    async def until(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        async def wait() -> None:
            while not condition():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)


def enqueue(db: Database, ws: int, tag: str, *, app: str | None = "a", kind: str = "x", delay: float = 0.0) -> str:
    due = now() + timedelta(seconds=delay)
    return db.write_sync(lambda c: queue.enqueue(c, ws, kind, {"tag": tag}, app_id=app, run_after=due))


class ObservedWorker(Worker):
    """A worker that tells every ``Gate`` when a job's outcome is recorded (not just when its
    handler returned), so a test can wait on a job's final status."""

    gates: tuple[Gate, ...] = ()

    async def _execute(self, job: queue.JobRecord) -> None:
        try:
            await super()._execute(job)
        finally:
            for gate in self.gates:
                gate.changed.set()


async def running_worker(db: Database, handlers: dict[str, Any], gate: Gate | None = None,
                         **kw: Any) -> tuple[Worker, asyncio.Event, asyncio.Task[None]]:  # fmt: skip
    db.start()
    worker = ObservedWorker(db, handlers, poll_seconds=POLL, **kw)
    worker.gates = (gate,) if gate is not None else ()
    stop = asyncio.Event()
    return worker, stop, asyncio.create_task(worker.run(stop))


async def finish(gate: Gate, stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    gate.let(*gate.tags())
    await asyncio.wait_for(task, 20)


def statuses(db: Database, ws: int, ids: list[str]) -> list[str]:
    return db.read_sync(lambda c: [queue.get(c, ws, i).status for i in ids])


def test_several_jobs_in_flight_bounded_by_concurrency(db: Database, ws: int) -> None:
    ids = [enqueue(db, ws, f"j{i}", app=f"app{i}") for i in range(5)]
    gate = Gate()

    async def go() -> None:
        _, stop, task = await running_worker(db, {"x": gate.handler()}, concurrency=3, per_app=2)
        await gate.until(lambda: gate.running == 3)
        gate.let(gate.tags()[0])  # one slot frees: the fourth starts without waiting for a poll
        await gate.until(lambda: len(gate.started) == 4)
        assert gate.running == 3
        gate.let(*gate.tags())
        await gate.until(lambda: len(gate.started) == 5)
        await finish(gate, stop, task)

    asyncio.run(go())
    assert gate.peak == 3 and statuses(db, ws, ids) == ["completed"] * 5


def test_a_slow_app_holds_only_its_own_slots(db: Database, ws: int) -> None:
    """Six jobs of a stuck vendor queued first; a healthy app's job queued after them still runs
    (and completes) while the stuck app never has more than ``per_app`` in flight."""
    for i in range(6):
        enqueue(db, ws, f"slow{i}", app="slow")
    healthy = enqueue(db, ws, "healthy", app="healthy")
    gate = Gate()

    async def go() -> None:
        handler = gate.handler()

        async def route(ctx: JobContext) -> dict[str, Any]:
            if ctx.job.app_id == "healthy":
                gate.let("healthy")
            return await handler(ctx)

        _, stop, task = await running_worker(db, {"x": route}, gate, concurrency=4, per_app=2)
        await gate.until(lambda: "healthy" in gate.tags() and gate.running == 2)
        assert sum(s["app"] == "slow" for s in gate.started) == 2
        await gate.until(lambda: statuses(db, ws, [healthy]) == ["completed"])
        assert sum(s["app"] == "slow" for s in gate.started) == 2
        await finish(gate, stop, task)

    asyncio.run(go())


def test_the_cap_holds_across_workers(db: Database, ws: int) -> None:
    """Two workers (two processes, as far as the queue knows) share the per-app cap."""
    for i in range(4):
        enqueue(db, ws, f"s{i}", app="shared")
    gate = Gate()

    async def go() -> None:
        one, stop_one, task_one = await running_worker(db, {"x": gate.handler()}, concurrency=4, per_app=1)
        _, stop_two, task_two = await running_worker(db, {"x": gate.handler()}, concurrency=4, per_app=1)
        await gate.until(lambda: gate.running == 1)
        for count in (2, 3, 4):  # each release lets exactly one more start, in one worker or the other
            gate.let(*gate.tags())
            one.wake()
            await gate.until(lambda count=count: len(gate.started) == count)  # type: ignore[misc]
            assert gate.running == 1
        stop_two.set()
        await finish(gate, stop_one, task_one)
        await asyncio.wait_for(task_two, 20)

    asyncio.run(go())
    assert gate.peak == 1


def test_fair_across_workspaces(db: Database, ws: int) -> None:
    """A workspace with a backlog queued first does not make another workspace's job wait."""
    other = db.write_sync(lambda conn: tenancy.ensure_workspace(conn, "jobs-other"))
    for i in range(5):
        enqueue(db, ws, f"busy{i}", app=f"b{i}")
    db.write_sync(lambda c: queue.enqueue(c, other, "x", {"tag": "other"}, app_id="o"))
    gate = Gate()

    async def go() -> None:
        _, stop, task = await running_worker(db, {"x": gate.handler()}, concurrency=2, per_app=2)
        await gate.until(lambda: gate.running == 2)
        assert sorted(gate.tags()) == ["busy0", "other"]
        await finish(gate, stop, task)

    asyncio.run(go())


def test_planning_jobs_run_one_at_a_time_per_app(db: Database, ws: int) -> None:
    enqueue(db, ws, "plan1", kind="reconcile")
    enqueue(db, ws, "plan2", kind="reconcile")
    enqueue(db, ws, "remove", kind="remove")
    gate = Gate()

    async def go() -> None:
        handler = gate.handler()
        _, stop, task = await running_worker(db, {"reconcile": handler, "remove": handler}, concurrency=4, per_app=3)
        await gate.until(lambda: gate.running == 2)
        assert sorted(gate.tags()) == ["plan1", "remove"]
        gate.let("plan1")
        await gate.until(lambda: "plan2" in gate.tags())
        await finish(gate, stop, task)

    asyncio.run(go())


@pytest.mark.parametrize("delay", [0.3])
def test_a_job_starts_at_its_due_time_not_at_the_poll(db: Database, ws: int, delay: float) -> None:
    gate = Gate()

    async def go() -> None:
        worker, stop, task = await running_worker(db, {"x": gate.handler(blocking=False)}, concurrency=2, per_app=2)
        await asyncio.sleep(0)  # the worker is idle, waiting for the poll
        queued_at = now()
        enqueue(db, ws, "later", delay=delay)
        worker.wake()  # as a commit in this process does
        await gate.until(lambda: len(gate.started) == 1, timeout=POLL / 4)
        started = gate.started[0]["at"]
        assert started >= queued_at + timedelta(seconds=delay)
        enqueue(db, ws, "now")
        worker.wake()
        await gate.until(lambda: len(gate.started) == 2, timeout=POLL / 4)
        await finish(gate, stop, task)

    asyncio.run(go())


class SlowClaimWorker(ObservedWorker):
    """A worker whose claims return late, like a loaded host's: each claim looks (sees nothing
    due yet) and returns only after ``late_until``."""

    late_until: datetime | None = None

    async def _claim(self, limit: int = 1) -> list[queue.JobRecord]:
        jobs = await super()._claim(limit)
        if self.late_until is not None and (late := (self.late_until - now()).total_seconds()) > 0:
            await asyncio.sleep(late)  # the latency being simulated, not a wait for the worker
        return jobs


def test_a_job_that_falls_due_during_a_slow_claim_is_not_left_to_the_poll(db: Database, ws: int) -> None:
    """The claim looked before the due time and returned after it: the worker looks again at
    once, not after a whole poll (the flake of the test above on a loaded host)."""
    gate = Gate()

    async def go() -> None:
        db.start()
        worker = SlowClaimWorker(db, {"x": gate.handler(blocking=False)}, poll_seconds=POLL, concurrency=2)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        due = now() + timedelta(seconds=0.3)
        worker.late_until = due + timedelta(seconds=0.05)
        db.write_sync(lambda c: queue.enqueue(c, ws, "x", {"tag": "during"}, app_id="a", run_after=due))
        worker.wake()
        await gate.until(lambda: len(gate.started) == 1, timeout=POLL / 4)
        assert gate.started[0]["at"] >= due
        await finish(gate, stop, task)

    asyncio.run(go())


def test_stop_lets_jobs_in_flight_finish(db: Database, ws: int) -> None:
    ids = [enqueue(db, ws, f"f{i}", app=f"f{i}") for i in range(3)]
    gate = Gate()

    async def go() -> None:
        _, stop, task = await running_worker(db, {"x": gate.handler()}, concurrency=3, per_app=1)
        await gate.until(lambda: gate.running == 3)
        stop.set()
        assert not task.done()
        gate.let(*gate.tags())
        await asyncio.wait_for(task, 20)

    asyncio.run(go())
    assert statuses(db, ws, ids) == ["completed"] * 3
