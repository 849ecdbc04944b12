"""The durable job queue: rows in ``jobs``, claimed with leases.

Claiming is one transaction: PostgreSQL picks a row with ``FOR UPDATE SKIP LOCKED`` (many
workers never block on or double-claim a row); SQLite's writer lock (``BEGIN IMMEDIATE``)
serialises claimers. A claimed job whose lease runs out (its worker died) is claimable
again; handlers are idempotent, so running a step twice does no second effect.

With ``per_app`` a claim is fair (``claim``): it never takes a job of an app that already has
``per_app`` live jobs running (in any process), and among the apps with due work it serves the
workspace, then the app, with the fewest jobs running, oldest due first. So a slow or faulty
vendor holds at most ``per_app`` of the workers' slots and delays only its own app. The jobs
that plan an app from its whole state (``PLANNING``) never run two at once for one app.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, func, insert, literal_column, or_, select, text, update

from scim_server import notify
from scim_server.store import fastsql, paging
from scim_server.store.app_models import Job
from scim_server.store.db import new_id, now

CLAIM_LOCK = 0x5C1B_0002  # PostgreSQL: claims with a per-app cap are serialised, so the cap holds

jobs = Job.__table__
LIVE = ("queued", "running")
PLANNING = ("check", "reconcile", "apply_report")
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
    created_by: str | None = None


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
        finished=row.finished, lease_owner=row.lease_owner, created_by=row.created_by,
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
    ``dedupe_statuses`` (default: queued or running) is returned instead of a second one.

    Precompiled (``fastsql``): a reconcile plans its actions as jobs, one enqueue each."""
    if dedupe_key is not None:
        params = {"ws": workspace_id, "key": dedupe_key} | fastsql.in_params("s", dedupe_statuses)
        existing = fastsql.fetchone(conn, _deduped(len(dedupe_statuses)), params)
        if existing is not None:
            return str(existing[0])
    job_id, at = new_id(), now()
    dialect = conn.dialect.name
    fastsql.execute(conn, _INSERT, {
        "id": job_id, "workspace_id": workspace_id, "app_id": app_id, "kind": kind, "status": "queued",
        "payload": orjson.dumps(payload).decode(), "dedupe_key": dedupe_key, "created_by": created_by,
        "max_attempts": max_attempts, "attempts": 0, "progress_done": 0,
        "run_after": fastsql.ts_in(dialect, run_after or at), "created": fastsql.ts_in(dialect, at),
    })  # fmt: skip
    return job_id


_INSERT = fastsql.Statement(insert(jobs).values({c: bindparam(c) for c in (
    "id", "workspace_id", "app_id", "kind", "status", "payload", "dedupe_key", "created_by", "max_attempts",
    "attempts", "progress_done", "run_after", "created")}))  # fmt: skip


@lru_cache(maxsize=8)
def _deduped(statuses: int) -> fastsql.Statement:
    """A live job with the dedupe key, its status one of ``statuses`` bound values."""
    return fastsql.Statement(select(jobs.c.id).where(
        jobs.c.workspace_id == bindparam("ws"), jobs.c.dedupe_key == bindparam("key"),
        jobs.c.status.in_([bindparam(f"s{i}") for i in range(statuses)])))  # fmt: skip


def _claimable(at: datetime) -> Any:
    return or_(
        and_(jobs.c.status == "queued", jobs.c.run_after <= at),
        and_(jobs.c.status == "running", jobs.c.lease_until < at),
    )


def claim(
    conn: Connection,
    worker: str,
    lease_seconds: float,
    kinds: tuple[str, ...] | None = None,
    *,
    per_app: int | None = None,
) -> JobRecord | None:
    """Take a due job (or one whose lease expired) and lease it to ``worker``: the oldest due
    one, or with ``per_app`` the fair choice (module docstring); None when nothing is claimable."""
    taken = claim_many(conn, worker, lease_seconds, kinds, per_app=per_app, limit=1)
    return taken[0] if taken else None


def claim_many(
    conn: Connection,
    worker: str,
    lease_seconds: float,
    kinds: tuple[str, ...] | None = None,
    *,
    per_app: int | None = None,
    limit: int = 1,
) -> list[JobRecord]:
    """Up to ``limit`` jobs in one transaction, each chosen as ``claim`` would choose it after the
    ones before it were taken: a worker with free slots fills them with one round of queries
    instead of one transaction a slot (the 8 reconciles one SCIM write queues, claimed at once)."""
    at = now()
    if per_app is None:
        taken: list[JobRecord] = []
        while len(taken) < limit and (job := _take(conn, worker, lease_seconds, at, _oldest(at, kinds))) is not None:
            taken.append(job)
        return taken
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CLAIM_LOCK})
    running: dict[tuple[int, str | None], int] = {}
    planning: set[str] = set()
    live = and_(jobs.c.status == "running", jobs.c.lease_until >= at)
    for ws, app, kind in conn.execute(select(jobs.c.workspace_id, jobs.c.app_id, jobs.c.kind).where(live)):
        running[(ws, app)] = running.get((ws, app), 0) + 1
        if app is not None and kind in PLANNING:
            planning.add(app)
    by_workspace: dict[int, int] = {}
    for (ws, _), count in running.items():
        by_workspace[ws] = by_workspace.get(ws, 0) + count
    due = select(jobs.c.workspace_id, jobs.c.app_id, func.min(jobs.c.run_after)).where(_claimable(at))
    if kinds:
        due = due.where(jobs.c.kind.in_(kinds))
    groups = {(ws, app): first for ws, app, first in conn.execute(due.group_by(jobs.c.workspace_id, jobs.c.app_id))}
    taken = []
    while len(taken) < limit:
        open_groups = [
            (by_workspace.get(ws, 0), running.get((ws, app), 0), first, ws, app)
            for (ws, app), first in groups.items()
            if app is None or running.get((ws, app), 0) < per_app
        ]
        job = None
        for *_, ws, app in sorted(open_groups, key=lambda g: g[:3]):
            job = _take_id(conn, worker, lease_seconds, at, _oldest_of(conn, ws, app, at, kinds, app in planning))
            if job is not None:
                break
            del groups[(ws, app)]  # nothing of it is claimable for us now
        if job is None:
            return taken
        taken.append(job)
        running[(job.workspace_id, job.app_id)] = running.get((job.workspace_id, job.app_id), 0) + 1
        by_workspace[job.workspace_id] = by_workspace.get(job.workspace_id, 0) + 1
        if job.app_id is not None and job.kind in PLANNING:
            planning.add(job.app_id)
    return taken


def _oldest(at: datetime, kinds: tuple[str, ...] | None) -> Any:
    query = select(jobs.c.id).where(_claimable(at)).order_by(jobs.c.run_after).limit(1)
    return query.where(jobs.c.kind.in_(kinds)) if kinds else query


def _oldest_of(conn: Connection, ws: int, app: str | None, at: datetime, kinds: tuple[str, ...] | None,
               no_planning: bool) -> str | None:  # fmt: skip
    """The oldest claimable job of one app (or of no app): its oldest due queued job and its oldest
    running job whose lease ran out, each found by an index seek on
    (``ix_jobs_live``: app_id, status, run_after) so that the app's finished history is never
    read; the earlier of the two. Precompiled (a claim runs it for each job it takes)."""
    params = {"ws": ws, "app": app, "at": fastsql.ts_in(conn.dialect.name, at), "queued": "queued",
              "running": "running"} | fastsql.in_params("k", kinds or ()) | _PLANNING_PARAMS  # fmt: skip
    found: list[tuple[Any, str]] = []
    for statement in _oldest_statements(app is None, len(kinds or ()), no_planning):
        row = fastsql.fetchone(conn, statement, params)
        if row is not None:
            found.append((fastsql.ts_out(row[0]), row[1]))
    return min(found)[1] if found else None


_PLANNING_PARAMS = fastsql.in_params("p", PLANNING)


@lru_cache(maxsize=64)
def _oldest_statements(no_app: bool, kinds: int, no_planning: bool) -> tuple[fastsql.Statement, ...]:
    """``_oldest_of``'s two seeks (the oldest due queued job, the oldest expired lease) for one
    shape of claim: on PostgreSQL each row locked, skipping those other claimers hold."""
    at = bindparam("at", type_=jobs.c.run_after.type)
    statements = []
    for claimable in (and_(jobs.c.status == bindparam("queued"), jobs.c.run_after <= at),
                      and_(jobs.c.status == bindparam("running"), jobs.c.lease_until < at)):  # fmt: skip
        query = select(jobs.c.run_after, jobs.c.id).where(
            jobs.c.app_id.is_(None) if no_app else jobs.c.app_id == bindparam("app"), claimable,
            jobs.c.workspace_id == bindparam("ws"),
        )  # fmt: skip
        if kinds:
            query = query.where(jobs.c.kind.in_([bindparam(f"k{i}") for i in range(kinds)]))
        if no_planning:
            query = query.where(jobs.c.kind.not_in([bindparam(f"p{i}") for i in range(len(PLANNING))]))
        query = query.order_by(jobs.c.run_after).limit(literal_column("1")).offset(literal_column("0"))
        statements.append(fastsql.Statement(query, query.with_for_update(skip_locked=True)))
    return tuple(statements)


def _take(conn: Connection, worker: str, lease_seconds: float, at: datetime, query: Any) -> JobRecord | None:
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return _take_id(conn, worker, lease_seconds, at, conn.execute(query).scalar())


def _take_id(conn: Connection, worker: str, lease_seconds: float, at: datetime, job_id: str | None) -> JobRecord | None:
    """Lease ``job_id`` to ``worker`` if it is still claimable."""
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


def next_due(conn: Connection, kinds: tuple[str, ...] | None = None) -> datetime | None:
    """When the next job becomes claimable: the earliest queued ``run_after`` or running
    ``lease_until`` (a worker that died); None when there is no live job. Two index seeks."""
    times = []
    for status, column in (("queued", jobs.c.run_after), ("running", jobs.c.lease_until)):
        query = select(func.min(column)).where(jobs.c.status == status)
        if kinds:
            query = query.where(jobs.c.kind.in_(kinds))
        value = conn.execute(query).scalar()
        if value is not None:
            times.append(value if value.tzinfo else value.replace(tzinfo=UTC))
    return min(times, default=None)


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
    if retry_at is None:
        notify.job_failed(conn, job_id)  # failed for good: tell the owners and webhooks (after commit)
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


def prune(conn: Connection, older_than: datetime, limit: int = 2000) -> dict[int, int]:
    """Delete up to ``limit`` jobs completed before ``older_than`` (an index range on
    ``ix_jobs_finished``, so a batch costs the same whatever the history); returns the count per
    workspace. Their outcome is in the audit trail (``app.check``, ``app.member.remove``...) and
    in what they changed; failed and cancelled jobs are kept for an operator to read."""
    old = and_(jobs.c.status == "completed", jobs.c.finished < older_than)
    query = select(jobs.c.id, jobs.c.workspace_id).where(old).order_by(jobs.c.finished).limit(limit)
    return fastsql.delete_selected(conn, jobs, query)


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


def retry(conn: Connection, workspace_id: int, job_id: str) -> JobRecord:
    """Queue a failed (or cancelled) job again, now, with a fresh set of attempts."""
    get(conn, workspace_id, job_id)
    again = conn.execute(
        update(jobs).where(jobs.c.id == job_id, jobs.c.workspace_id == workspace_id,
                           jobs.c.status.in_(("failed", "cancelled")))
        .values(status="queued", run_after=now(), attempts=0, error=None, result=None, finished=None,
                lease_owner=None, lease_until=None)
    ).rowcount  # fmt: skip
    current = get(conn, workspace_id, job_id)
    if not again:
        raise JobStateConflict(f"Job {job_id} is {current.status}; only a failed or cancelled job can be retried.")
    return current


def resolve(conn: Connection, workspace_id: int, job_id: str, by: str, note: str) -> JobRecord:
    """"Mark as done": an admin did a failed job's work by hand; it completes with who and why."""
    get(conn, workspace_id, job_id)
    result = orjson.dumps({"resolved_by": by, "note": note, "manual": True}).decode()
    done = conn.execute(
        update(jobs).where(jobs.c.id == job_id, jobs.c.workspace_id == workspace_id, jobs.c.status == "failed")
        .values(status="completed", finished=now(), result=result, lease_owner=None, lease_until=None)
    ).rowcount  # fmt: skip
    current = get(conn, workspace_id, job_id)
    if not done:
        raise JobStateConflict(f"Job {job_id} is {current.status}; only a failed job can be marked as done.")
    return current
