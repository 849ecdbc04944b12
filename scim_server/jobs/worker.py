"""The worker: claim a job, run its handler while renewing the lease, record the outcome.

Only ``RetryableError`` is retried (with backoff that honours ``retry_after``); anything
else fails the job visibly with its reason. A handler sees a ``JobContext`` to report
progress and to honour a cancel.

Cancellation is cooperative, so an effect on the app is never cut in half: a handler calls
``ensure_live()`` between steps and before every effect on the app, puts ``guard(conn)`` in
each unit of work that must not outlive a cancel and ``guard_owner(conn)`` in each unit that
records an effect already made, and reads the app inside ``interruptible()``: only there may
a cancel interrupt it at once. A cancel made in this process reaches the running handler at
once (``Worker.interrupt``); one made elsewhere at the next heartbeat, ``ensure_live`` or
``guard``. A cancelled job's ``result`` is ``{"cancelled": true, "partial": ctx.partial}``.

One worker runs up to ``concurrency`` jobs at once, at most ``per_app`` of them (across every
process) for one app, claimed fairly (``queue.claim``): a slow vendor occupies only its own
app's slots. It sleeps until the next job is due (``queue.next_due``), a slot frees, or
``wake()`` (a job queued in this process); ``poll_seconds`` bounds the sleep only so that jobs
queued by other processes are seen.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from connectors.errors import ConnectorError
from connectors.registry import CATALOG
from scim_server.jobs import queue
from scim_server.jobs.queue import JobCancelled, JobRecord, LeaseLost
from scim_server.jobs.retry import retry_at
from scim_server.store.db import Database, now

__all__ = ["Handler", "JobCancelled", "JobContext", "LeaseLost", "ShuttingDown", "Worker", "worker_name"]

log = logging.getLogger("scim_bridge.worker")


class ShuttingDown(LeaseLost):
    """This worker is stopping (SIGTERM): the handler stops at its next safe point (``ensure_live``,
    ``guard``, an ``interruptible`` read) and the job is handed back (``queue.release``)."""


@dataclass
class JobContext:
    """What a handler knows of its job; ``partial`` is what it has done so far (committed
    work, effects made), reported as the result if the job is cancelled."""

    job: JobRecord
    db: Database
    worker: str
    services: Any = None
    partial: dict[str, Any] = field(default_factory=dict)
    _task: asyncio.Task[Any] | None = field(default=None, repr=False)
    _stopping: bool = field(default=False, repr=False)
    _interruptible: bool = field(default=False, repr=False)
    _shutdown: bool = field(default=False, repr=False)

    async def progress(self, done: int, total: int | None = None) -> None:
        """Report progress; raises ``JobCancelled`` / ``LeaseLost`` when the job is no longer ours."""
        if not await self.db.write(lambda conn: queue.progress(conn, self.job.id, self.worker, done, total)):
            await self.ensure_live()
            raise LeaseLost(self.job.id)

    async def ensure_live(self) -> None:
        """One read of the job row: raises ``JobCancelled`` (cancelled while ours) or
        ``LeaseLost`` (re-claimed elsewhere) unless it is still running and ours; ``ShuttingDown``
        once this worker is stopping."""
        if self._shutdown:
            raise ShuttingDown(self.job.id)
        await self.db.read(lambda conn: queue.ensure_live(conn, self.job.id, self.worker))

    def guard(self, conn: Connection) -> None:
        """First statement of a unit of work that must not outlive a cancel (``queue.guard``) or
        this worker's shutdown."""
        if self._shutdown:
            raise ShuttingDown(self.job.id)
        queue.guard(conn, self.job.id, self.worker)

    def guard_owner(self, conn: Connection) -> None:
        """First statement of a unit recording an effect already made (``queue.guard_owner``)."""
        queue.guard_owner(conn, self.job.id, self.worker)

    def settle(self, conn: Connection) -> bool:
        """In a unit recording effects after a cancel: the job's result, in the same commit."""
        return queue.settle_cancelled(conn, self.job.id, self.worker, self.partial)

    @asynccontextmanager
    async def interruptible(self) -> AsyncIterator[None]:
        """A region with no effect in flight (reading the app): a cancel interrupts it at once,
        and the region raises ``JobCancelled`` / ``LeaseLost``. Regions do not nest."""
        if self._stopping:
            await self._stopped()
        self._interruptible = True
        try:
            yield
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            await self._stopped()
        finally:
            self._interruptible = False

    def interrupt(self) -> None:
        """The job was cancelled or lost: interrupt the handler now if it is only reading the
        app, else let its next ``ensure_live`` / ``guard`` stop it."""
        self._stopping = True
        if self._interruptible and self._task is not None:
            self._task.cancel()

    def shutdown(self) -> None:
        """The worker is stopping: stop at the next safe point; the job is handed back."""
        self._shutdown = True
        self.interrupt()

    def attach(self, task: asyncio.Task[Any]) -> None:
        """The task running the handler (``interrupt`` cancels it inside ``interruptible``)."""
        self._task = task

    async def _stopped(self) -> None:
        await self.ensure_live()  # raises ShuttingDown when that is why we stopped
        raise LeaseLost(self.job.id)


Handler = Callable[[JobContext], Awaitable[dict[str, Any] | None]]


def load_connectors() -> int:
    """Import every connector kind now (the catalog imports them on first use, ~0.4 s once per
    process): a worker pays it as it starts, not in the first job that plans an app
    (``reconcile.policy_of`` reads the kind's roles), so the first deactivation after a start is
    no slower than the next. In the event loop's thread, not another: a kind's module registers
    itself under the catalog's lock, so a second importing thread could deadlock with it."""
    return len(CATALOG)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Worker:
    db: Database
    handlers: Mapping[str, Handler]
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    retry_base: float = 1.0
    services: Any = None
    name: str = field(default_factory=worker_name)
    concurrency: int = 1
    per_app: int | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _running: dict[str, JobContext] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _stopping: bool = False
    _looked_at: datetime = field(default_factory=now)  # when the last claim started

    def wake(self) -> None:
        """Tell the worker that a job was just queued (no need to wait for the poll)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Fill free slots with claimed jobs, then sleep until something can change that. On
        ``stop`` it claims nothing more; each job in flight stops at its next safe point and is
        handed back (lease released), so a restart never leaves work waiting for a lease."""
        load_connectors()
        watcher = asyncio.create_task(self._hand_back_on(stop))
        try:
            await self._loop(stop)
        finally:
            watcher.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _hand_back_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stopping = True
        for context in list(self._running.values()):
            context.shutdown()

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                await self._fill()
                delay = await self._idle_for()
            except Exception:  # the loop must survive a database hiccup
                log.exception("worker loop error")
                delay = self.poll_seconds
            if delay > 0:
                waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
                await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()

    async def _fill(self) -> None:
        """Claim jobs for every free slot in one transaction (``queue.claim_many``), until no more
        are claimable or the slots are full."""
        while (free := self.concurrency - len(self._tasks)) > 0 and not self._stopping:
            self._looked_at = now()
            jobs = await self._claim(free)
            for job in jobs:
                task = asyncio.create_task(self._execute(job))
                self._tasks.add(task)
                task.add_done_callback(self._slot_freed)
            if len(jobs) < free:
                return

    def _slot_freed(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()
        if self.services is not None:  # wake whoever waits on a job (GET /jobs/{id}?wait=)
            self.services.jobs_ended.fire()

    async def _idle_for(self) -> float:
        """Seconds to sleep: until the next due time when it is sooner than the poll, else the
        poll. A job already due that ``_fill`` left (its app is at the per-app cap, or every slot
        is taken) waits for a slot to free (a wake) or, if other processes hold the app, the poll;
        but one that fell due after the last claim looked (a slow claim on a loaded host) was
        never seen by it: look again at once instead of sleeping a whole poll."""
        if len(self._tasks) >= self.concurrency:
            return self.poll_seconds
        kinds = tuple(self.handlers)
        due = await self.db.read(lambda conn: queue.next_due(conn, kinds))
        if due is None:
            return self.poll_seconds
        wait = (due - now()).total_seconds()
        if wait <= 0:
            return 0.0 if due > self._looked_at else self.poll_seconds
        return min(wait + 0.001, self.poll_seconds)

    async def _claim(self, limit: int = 1) -> list[JobRecord]:
        kinds = tuple(self.handlers)
        return await self.db.write(
            lambda conn: queue.claim_many(conn, self.name, self.lease_seconds, kinds, per_app=self.per_app, limit=limit)
        )

    async def run_once(self) -> bool:
        """Claim one job and run it to its end here (tests, tools); False when none is due."""
        jobs = await self._claim()
        if not jobs:
            return False
        await self._execute(jobs[0])
        return True

    def interrupt(self, job_id: str) -> bool:
        """A cancel was committed for ``job_id``: stop its handler if this worker runs it."""
        context = self._running.get(job_id)
        if context is None:
            return False
        context.interrupt()
        return True

    async def _execute(self, job: JobRecord) -> None:
        context = JobContext(job, self.db, self.name, self.services)
        task = asyncio.create_task(self._handle(job, context))
        context.attach(task)
        self._running[job.id] = context
        if self._stopping:  # claimed just as the stop came: hand it straight back
            context.shutdown()
        keeper = asyncio.create_task(self._keep_lease(context, task))
        try:
            result = await task
        except ShuttingDown:
            if await self.db.write(lambda conn: queue.release(conn, job.id, self.name)):
                log.info("job handed back", extra={"job_id": job.id, "kind": job.kind})
            else:
                await self._settle(context, context.partial)  # cancelled meanwhile
            return
        except (LeaseLost, asyncio.CancelledError) as exc:
            await self._settle(context, context.partial)
            log.info("job stopped", extra={"job_id": job.id, "kind": job.kind, "outcome": type(exc).__name__})
            return
        except Exception as exc:  # noqa: BLE001 (a handler's any error fails its job, never the worker)
            await self._failed(job, exc)
            await self._settle(context, context.partial)  # it failed after a cancel: say what it did
            return
        finally:
            keeper.cancel()
            self._running.pop(job.id, None)
        if await self.db.write(lambda conn: queue.complete(conn, job.id, self.name, result)):
            log.info("job completed", extra={"job_id": job.id, "kind": job.kind})
        else:  # cancelled after its last step: all of it was done
            await self._settle(context, result or {})

    async def _handle(self, job: JobRecord, context: JobContext) -> dict[str, Any] | None:
        return await self.handlers[job.kind](context)

    async def _settle(self, context: JobContext, partial: dict[str, Any]) -> None:
        """Record a cancelled job's partial work; a no-op unless the job was cancelled while
        this worker held it and the handler has not settled it already."""
        await self.db.write(lambda conn: queue.settle_cancelled(conn, context.job.id, self.name, partial))

    async def _keep_lease(self, context: JobContext, task: asyncio.Task[Any]) -> None:
        job = context.job
        while not task.done():
            await asyncio.sleep(self.lease_seconds / 3)
            alive = await self.db.write(lambda conn: queue.heartbeat(conn, job.id, self.name, self.lease_seconds))
            if not alive:
                context.interrupt()
                return

    async def _failed(self, job: JobRecord, exc: Exception) -> None:
        when = retry_at(exc, job.attempts, job.max_attempts, base=self.retry_base)
        message = str(exc) if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
        status = await self.db.write(lambda conn: queue.fail(conn, job.id, self.name, message, when))
        log.info("job attempt failed", extra={"job_id": job.id, "kind": job.kind, "outcome": status,
                                              "error_type": type(exc).__name__})  # fmt: skip
