"""Automation jobs: list, read, cancel, retry, and "Mark as done" (the manual fallback: an admin did
the work in the app by hand; scim-bridge records who and what it means, e.g. the member is gone)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection

from scim_server import reconcile
from scim_server.audit.log import append as audit
from scim_server.auth import Principal
from scim_server.jobs import queue
from scim_server.jobs.queue import JobRecord
from scim_server.services import Services
from scim_server.services.errors import Conflict, Invalid
from scim_server.services.paging import PageRequest, page_of
from scim_server.services.schemas import ResolveJob
from scim_server.store import members as member_store
from scim_server.store import reports as report_store
from scim_server.store.db import iso_utc

STATUSES = ("queued", "running", "completed", "failed", "cancelled")
ENDED = frozenset({"completed", "failed", "cancelled"})
MAX_WAIT_SECONDS = 60.0
RECHECK_SECONDS = 1.0
SCOPE = "jobs"


def trigger_of(created_by: str | None) -> str:
    """What started the job: the schedule, another job (an IdP push or a check re-planning), or a person."""
    if created_by == "scheduler":
        return "schedule"
    if created_by is None or created_by.startswith("job:"):
        return "automation"
    return "admin"


def job_view(job: JobRecord) -> dict[str, Any]:
    return {
        "id": job.id, "app_id": job.app_id, "kind": job.kind, "status": job.status,
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "attempts": job.attempts, "max_attempts": job.max_attempts, "payload": job.payload,
        "result": job.result, "error": job.error, "created": iso_utc(job.created), "started": iso_utc(job.started),
        "finished": iso_utc(job.finished), "created_by": job.created_by, "trigger": trigger_of(job.created_by),
    }  # fmt: skip


async def list_jobs(svc: Services, who: Principal, app_id: str | None, status: str | None,
                    page: PageRequest) -> dict[str, Any]:  # fmt: skip
    """Jobs newest first, paged on (created, id) descending."""
    if status is not None and status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}.", field="status")
    after = page.after_created_id(SCOPE)
    rows = await svc.db.read(lambda conn: queue.list_jobs(conn, who.workspace_id, app_id=app_id, status=status,
                                                          after=after, limit=page.fetch))  # fmt: skip
    return page_of(rows, page.limit, SCOPE, lambda j: (j.created, j.id), job_view)


async def get_job(svc: Services, who: Principal, job_id: str, wait: float = 0.0) -> dict[str, Any]:
    """The job; with ``wait`` > 0, held until the job has ended or ``wait`` seconds passed (a long
    poll: callers that wait for a job ask once instead of re-asking on a timer). This process's
    worker wakes the wait when it ends an attempt; a job run by another process is seen at the next
    re-read, every ``RECHECK_SECONDS``."""
    if not 0 <= wait <= MAX_WAIT_SECONDS:
        raise Invalid(f"wait must be between 0 and {MAX_WAIT_SECONDS:g} seconds.", field="wait")

    def read(conn: Connection) -> JobRecord:
        return queue.get(conn, who.workspace_id, job_id)

    job = await svc.db.read(read)
    deadline = time.monotonic() + wait
    while job.status not in ENDED and (left := deadline - time.monotonic()) > 0:
        await svc.jobs_ended.wait(min(left, RECHECK_SECONDS))
        job = await svc.db.read(read)
    return job_view(job)


def _state_conflict(fn: Any) -> Any:
    try:
        return fn()
    except queue.JobStateConflict as exc:
        raise Conflict(str(exc), code="job_state") from None


async def cancel(svc: Services, who: Principal, job_id: str) -> dict[str, Any]:
    def unit(conn: Connection) -> JobRecord:
        job: JobRecord = _state_conflict(lambda: queue.cancel(conn, who.workspace_id, job_id))
        audit(conn, who.workspace_id, who.actor, "job.cancel", "Job", job_id, detail={"kind": job.kind})
        return job

    job = await svc.db.write(unit)
    svc.stop_job(job_id)
    return job_view(job)


async def retry(svc: Services, who: Principal, job_id: str) -> dict[str, Any]:
    def unit(conn: Connection) -> JobRecord:
        job: JobRecord = _state_conflict(lambda: queue.retry(conn, who.workspace_id, job_id))
        if job.kind == "apply_report":
            report_store.start_applying(conn, job.payload["report_id"], job.id, who.actor)
        audit(conn, who.workspace_id, who.actor, "job.retry", "Job", job_id, detail={"kind": job.kind})
        return job

    job = await svc.db.write(unit)
    svc.wake_worker()
    return job_view(job)


async def resolve(svc: Services, who: Principal, job_id: str, body: ResolveJob) -> dict[str, Any]:
    """Mark a failed job as done by hand: a removal's member is recorded as gone (and its report
    entries removed, naming who confirmed it)."""

    def unit(conn: Connection) -> JobRecord:
        job: JobRecord = _state_conflict(lambda: queue.resolve(conn, who.workspace_id, job_id, who.actor, body.note))
        note = f"done in the app by {who.actor}: {body.note}"
        for member_id, remote_id in _removed_by(conn, job):
            member_store.close_member(conn, job.app_id or "", member_id, remote_id)
            report_store.mark_removed(conn, job.app_id or "", member_id, note)
        if job.kind == "apply_report":
            report_store.settle(conn, job.payload["report_id"])
        audit(conn, who.workspace_id, who.actor, "job.resolve", "Job", job_id,
              detail={"kind": job.kind, "app_id": job.app_id, "note": body.note})  # fmt: skip
        return job

    job = await svc.db.write(unit)
    svc.wake_worker()
    return job_view(job)


def _removed_by(conn: Connection, job: JobRecord) -> list[tuple[str, str]]:
    """(member id, remote id) of the members a removal job was to remove and has not recorded."""
    if job.kind == "remove":
        action = reconcile.action_from(job.payload)
        return [(action.member_id, action.remote_id)] if action is not None else []
    if job.kind == "apply_report":
        entries = report_store.to_remove(conn, job.payload["report_id"])
        rows = [member_store.get_member(conn, job.app_id or "", e.member_id) for e in entries]
        return [(r.id, r.remote_id) for r in rows if r is not None]
    return []
