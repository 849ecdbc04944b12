"""The worker: claim a job, run its handler while renewing the lease, record the outcome.

Only ``RetryableError`` is retried (with backoff that honours ``retry_after``); anything
else fails the job visibly with its reason. A handler sees a ``JobContext`` to report
progress; losing the lease (the job was cancelled or re-claimed) stops the handler.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import ConnectorError
from scim_server.jobs import queue
from scim_server.jobs.queue import JobRecord
from scim_server.jobs.retry import retry_at
from scim_server.store.db import Database

log = logging.getLogger("scim_bridge.worker")


class LeaseLost(Exception):
    """The job is no longer this worker's (cancelled, or its lease expired and was re-claimed)."""


@dataclass
class JobContext:
    job: JobRecord
    db: Database
    worker: str
    services: Any = None

    async def progress(self, done: int, total: int | None = None) -> None:
        if not await self.db.write(lambda conn: queue.progress(conn, self.job.id, self.worker, done, total)):
            raise LeaseLost(self.job.id)


Handler = Callable[[JobContext], Awaitable[dict[str, Any] | None]]


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
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        """Tell an idle worker that a job was just queued (no need to wait for the poll)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                ran = await self.run_once()
            except Exception:  # the loop must survive a database hiccup
                log.exception("worker loop error")
                ran = False
            if not ran:
                self._wake.clear()
                waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
                await asyncio.wait(waiters, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
                for task in waiters:
                    task.cancel()

    async def run_once(self) -> bool:
        kinds = tuple(self.handlers)
        job = await self.db.write(lambda conn: queue.claim(conn, self.name, self.lease_seconds, kinds))
        if job is None:
            return False
        await self._execute(job)
        return True

    async def _execute(self, job: JobRecord) -> None:
        context = JobContext(job, self.db, self.name, self.services)
        task = asyncio.create_task(self.handlers[job.kind](context))
        keeper = asyncio.create_task(self._keep_lease(job, task))
        try:
            result = await task
        except (LeaseLost, asyncio.CancelledError):
            log.info("job stopped: lease lost", extra={"job_id": job.id, "kind": job.kind})
            return
        except Exception as exc:
            await self._failed(job, exc)
            return
        finally:
            keeper.cancel()
        await self.db.write(lambda conn: queue.complete(conn, job.id, self.name, result))
        log.info("job completed", extra={"job_id": job.id, "kind": job.kind})

    async def _keep_lease(self, job: JobRecord, task: asyncio.Task[Any]) -> None:
        while not task.done():
            await asyncio.sleep(self.lease_seconds / 3)
            alive = await self.db.write(lambda conn: queue.heartbeat(conn, job.id, self.name, self.lease_seconds))
            if not alive:
                task.cancel()
                return

    async def _failed(self, job: JobRecord, exc: Exception) -> None:
        when = retry_at(exc, job.attempts, job.max_attempts, base=self.retry_base)
        message = str(exc) if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
        status = await self.db.write(lambda conn: queue.fail(conn, job.id, self.name, message, when))
        log.info("job attempt failed", extra={"job_id": job.id, "kind": job.kind, "outcome": status,
                                              "error_type": type(exc).__name__})  # fmt: skip
