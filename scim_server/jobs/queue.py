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


class LeaseLost(Exception):
    """The job is no longer this worker's (cancelled, or its lease expired and was re-claimed)."""


class JobCancelled(LeaseLost):
    """The job was cancelled while this worker held it: stop before the next step or effect,
    record the effects already made, and report the partial work (``settle_cancelled``)."""


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
                attempts=jobs.c.attempts + 1, started=at)
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
                lease_owner=None, lease_until=None)
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


def release(conn: Connection, job_id: str, worker: str) -> bool:
    """Hand a running job back (its worker is shutting down): queued again at once, the attempt
    not counted, so another worker claims it now instead of after the lease runs out. False
    when the job is no longer ``worker``'s."""
    handed = conn.execute(
        update(jobs).where(_owned(job_id, worker))
        .values(status="queued", lease_owner=None, lease_until=None, run_after=now(),
                attempts=jobs.c.attempts - 1)
    )  # fmt: skip
    return handed.rowcount > 0


def cancel(conn: Connection, workspace_id: int, job_id: str) -> JobRecord:
    """Cancel a queued or running job.

    A queued job never runs; its result says so (``{"cancelled": true, "partial": {}}``). A
    running job keeps its ``lease_owner``: that worker stops at its next step (``ensure_live``,
    ``guard``, heartbeat) and fills ``result`` with its partial work (``settle_cancelled``);
    until then ``result`` is null. Each UPDATE re-checks the status it acts on, so a job
    claimed or finished meanwhile is handled by the right branch, or refused.
    """
    get(conn, workspace_id, job_id)  # JobNotFound outside the workspace
    at = now()
    mine = and_(jobs.c.id == job_id, jobs.c.workspace_id == workspace_id)
    queued = conn.execute(
        update(jobs).where(mine, jobs.c.status == "queued")
        .values(status="cancelled", finished=at, lease_owner=None, lease_until=None,
                result=orjson.dumps({"cancelled": True, "partial": {}}).decode())
    ).rowcount  # fmt: skip
    running = 0 if queued else conn.execute(
        update(jobs).where(mine, jobs.c.status == "running").values(status="cancelled", finished=at, lease_until=None)
    ).rowcount  # fmt: skip
    current = get(conn, workspace_id, job_id)
    if not (queued or running):
        raise JobStateConflict(f"Job {job_id} is already {current.status}.")
    return current


def _lost(conn: Connection, job_id: str, worker: str) -> LeaseLost:
    """Why ``worker`` no longer holds the job: cancelled while it held it, or lost otherwise."""
    row = conn.execute(select(jobs.c.status, jobs.c.lease_owner).where(jobs.c.id == job_id)).first()
    if row is not None and row.status == "cancelled" and row.lease_owner == worker:
        return JobCancelled(job_id)
    return LeaseLost(job_id)


def ensure_live(conn: Connection, job_id: str, worker: str) -> None:
    """A read: raise ``JobCancelled`` / ``LeaseLost`` unless the job is running and ``worker``'s."""
    live = conn.execute(select(jobs.c.id).where(_owned(job_id, worker))).first()
    if live is None:
        raise _lost(conn, job_id, worker)


def guard(conn: Connection, job_id: str, worker: str) -> None:
    """In the caller's unit of work, before work that must not outlive a cancel (an import
    batch, the final reconcile): the job is still running and ``worker``'s, else raise
    ``JobCancelled`` / ``LeaseLost`` and the unit rolls back.

    It is an UPDATE, not a read, so it takes the job row's lock: a cancel committed first makes
    it fail; a cancel arriving later waits for the unit's commit (and then wins from there on).
    """
    if not conn.execute(update(jobs).where(_owned(job_id, worker)).values(lease_owner=worker)).rowcount:
        raise _lost(conn, job_id, worker)


def guard_owner(conn: Connection, job_id: str, worker: str) -> None:
    """Like ``guard``, for recording an effect already made on the app: passes also when the
    job was cancelled while ``worker`` held it (the effect happened; it is recorded truthfully).
    Raises ``LeaseLost`` when another worker holds the job (it redoes the step idempotently)."""
    ours = and_(jobs.c.id == job_id, jobs.c.status.in_(("running", "cancelled")), jobs.c.lease_owner == worker)
    if not conn.execute(update(jobs).where(ours).values(lease_owner=worker)).rowcount:
        raise LeaseLost(job_id)


def settle_cancelled(conn: Connection, job_id: str, worker: str, partial: dict[str, Any]) -> bool:
    """Record what a job cancelled while ``worker`` held it did: ``result`` =
    ``{"cancelled": true, "partial": ...}``, and release it. False (nothing written) when the
    job is not cancelled-and-``worker``'s (re-claimed, or already settled)."""
    cancelled = and_(jobs.c.id == job_id, jobs.c.status == "cancelled", jobs.c.lease_owner == worker)
    result = orjson.dumps({"cancelled": True, "partial": partial}).decode()
    return conn.execute(update(jobs).where(cancelled).values(result=result, lease_owner=None)).rowcount > 0


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
