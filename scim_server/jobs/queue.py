"""The durable job queue: rows in ``jobs``, claimed with leases.

Claiming is one transaction: PostgreSQL picks a row with ``FOR UPDATE SKIP LOCKED`` (many
workers never block on or double-claim a row); SQLite's writer lock (``BEGIN IMMEDIATE``)
serialises claimers. A claimed job whose lease runs out (its worker died) is claimable
again; handlers are idempotent, so running a step twice does no second effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, and_, insert, or_, select, update

from scim_server.store import paging
from scim_server.store.app_models import Job
from scim_server.store.db import new_id, now

jobs = Job.__table__
LIVE = ("queued", "running")
TERMINAL = ("completed", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    workspace_id: int
    app_id: str | None
    kind: str
    status: str
    payload: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    progress_done: int
    progress_total: int | None
    attempts: int
    max_attempts: int
    created: datetime
    started: datetime | None
    finished: datetime | None
    lease_owner: str | None = None


class JobNotFound(LookupError):
    """No job with that id in the workspace: a 404 (``scim_server/errors.py``)."""


class JobStateConflict(Exception):
    """The job is not in a state that allows the request (e.g. cancelling a finished job)."""


def _record(row: Any) -> JobRecord:
    return JobRecord(
        id=row.id, workspace_id=row.workspace_id, app_id=row.app_id, kind=row.kind, status=row.status,
        payload=orjson.loads(row.payload), result=orjson.loads(row.result) if row.result else None,
        error=row.error, progress_done=row.progress_done, progress_total=row.progress_total,
        attempts=row.attempts, max_attempts=row.max_attempts, created=row.created, started=row.started,
        finished=row.finished, lease_owner=row.lease_owner,
    )  # fmt: skip


def enqueue(
    conn: Connection,
    workspace_id: int,
    kind: str,
    payload: dict[str, Any],
    *,
    app_id: str | None = None,
    dedupe_key: str | None = None,
    created_by: str | None = None,
    max_attempts: int = 8,
    run_after: datetime | None = None,
    dedupe_statuses: tuple[str, ...] = LIVE,
) -> str:
    """Queue a job in the caller's transaction; with ``dedupe_key``, a job with the same key in
    ``dedupe_statuses`` (default: queued or running) is returned instead of a second one."""
    if dedupe_key is not None:
        existing = conn.execute(
            select(jobs.c.id).where(
                jobs.c.workspace_id == workspace_id, jobs.c.dedupe_key == dedupe_key,
                jobs.c.status.in_(dedupe_statuses),
            )
        ).scalar()
        if existing is not None:
            return str(existing)
    job_id, at = new_id(), now()
    conn.execute(
        insert(jobs).values(
            id=job_id, workspace_id=workspace_id, app_id=app_id, kind=kind, status="queued",
            payload=orjson.dumps(payload).decode(), dedupe_key=dedupe_key, created_by=created_by,
            max_attempts=max_attempts, attempts=0, progress_done=0, run_after=run_after or at, created=at,
        )
    )  # fmt: skip
    return job_id


def _claimable(at: datetime) -> Any:
    return or_(
        and_(jobs.c.status == "queued", jobs.c.run_after <= at),
        and_(jobs.c.status == "running", jobs.c.lease_until < at),
    )


def claim(conn: Connection, worker: str, lease_seconds: float, kinds: tuple[str, ...] | None = None) -> JobRecord | None:
    """Take the oldest due job (or one whose lease expired) and lease it to ``worker``."""
    at = now()
    query = select(jobs.c.id).where(_claimable(at)).order_by(jobs.c.run_after).limit(1)
    if kinds:
        query = query.where(jobs.c.kind.in_(kinds))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    job_id = conn.execute(query).scalar()
    if job_id is None:
        return None
    row = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, _claimable(at))
        .values(status="running", lease_owner=worker, lease_until=at + timedelta(seconds=lease_seconds),
                attempts=jobs.c.attempts + 1, started=at)  # fmt: skip
        .returning(*jobs.c)
    ).first()
    return None if row is None else _record(row)


def _owned(job_id: str, worker: str) -> Any:
    return and_(jobs.c.id == job_id, jobs.c.status == "running", jobs.c.lease_owner == worker)


def heartbeat(conn: Connection, job_id: str, worker: str, lease_seconds: float) -> bool:
    """Extend the lease; False when the job is no longer this worker's (cancelled, re-claimed)."""
    result = conn.execute(
        update(jobs).where(_owned(job_id, worker)).values(lease_until=now() + timedelta(seconds=lease_seconds))
    )
    return result.rowcount > 0


def progress(conn: Connection, job_id: str, worker: str, done: int, total: int | None) -> bool:
    result = conn.execute(update(jobs).where(_owned(job_id, worker)).values(progress_done=done, progress_total=total))
    return result.rowcount > 0


def complete(conn: Connection, job_id: str, worker: str, result: dict[str, Any] | None) -> bool:
    done = conn.execute(
        update(jobs)
        .where(_owned(job_id, worker))
        .values(status="completed", result=orjson.dumps(result or {}).decode(), error=None, finished=now(),
                lease_owner=None, lease_until=None)  # fmt: skip
    )
    return done.rowcount > 0


def fail(conn: Connection, job_id: str, worker: str, error: str, retry_at: datetime | None) -> str:
    """Record a failed attempt: re-queued for ``retry_at`` if given, else failed for good."""
    values: dict[str, Any] = {"error": error[:2000], "lease_owner": None, "lease_until": None}
    if retry_at is not None:
        values |= {"status": "queued", "run_after": retry_at}
    else:
        values |= {"status": "failed", "finished": now()}
    conn.execute(update(jobs).where(_owned(job_id, worker)).values(values))
    return str(values["status"])


def cancel(conn: Connection, workspace_id: int, job_id: str) -> JobRecord:
    """Cancel a queued or running job (a running one stops at its next heartbeat)."""
    current = get(conn, workspace_id, job_id)
    if current.status in TERMINAL:
        raise JobStateConflict(f"Job {job_id} is already {current.status}.")
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status.in_(LIVE))
        .values(status="cancelled", finished=now(), lease_owner=None, lease_until=None)
    )
    return get(conn, workspace_id, job_id)


def get(conn: Connection, workspace_id: int, job_id: str) -> JobRecord:
    row = conn.execute(select(jobs).where(jobs.c.workspace_id == workspace_id, jobs.c.id == job_id)).first()
    if row is None:
        raise JobNotFound(job_id)
    return _record(row)


def list_jobs(
    conn: Connection,
    workspace_id: int,
    *,
    app_id: str | None = None,
    status: str | None = None,
    after: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[JobRecord]:
    """Newest first; ``after`` is the (created, id) of the last job of the previous page."""
    query = select(jobs).where(jobs.c.workspace_id == workspace_id)
    if app_id is not None:
        query = query.where(jobs.c.app_id == app_id)
    if status is not None:
        query = query.where(jobs.c.status == status)
    query = paging.window(query, (jobs.c.created, jobs.c.id), after, limit, descending=True)
    return [_record(row) for row in conn.execute(query)]
