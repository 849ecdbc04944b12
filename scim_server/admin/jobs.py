"""/api/v1/jobs: automation tasks with status, progress, result and error."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from scim_server import cursor
from scim_server.admin.common import admin_call, json_response, page, page_params
from scim_server.audit.log import append as audit
from scim_server.errors import Conflict, Invalid
from scim_server.jobs import queue
from scim_server.jobs.queue import JobRecord
from scim_server.store.db import iso_utc

STATUSES = ("queued", "running", "completed", "failed", "cancelled")
SCOPE = "jobs"  # the cursor scope of GET /jobs


def job_view(job: JobRecord) -> dict[str, Any]:
    return {
        "id": job.id, "app_id": job.app_id, "kind": job.kind, "status": job.status,
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "attempts": job.attempts, "max_attempts": job.max_attempts, "payload": job.payload,
        "result": job.result, "error": job.error, "created": iso_utc(job.created), "started": iso_utc(job.started),
        "finished": iso_utc(job.finished),
    }  # fmt: skip


async def list_jobs(request: Request) -> Response:
    """Jobs newest first, paged on (created, id) descending; ``app_id`` and ``status`` filter."""
    call = await admin_call(request)
    raw, limit = page_params(request)
    status = request.query_params.get("status")
    if status is not None and status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}.")
    app_id = request.query_params.get("app_id")
    after = cursor.decode_created_id(SCOPE, raw) if raw else None

    def unit(conn: Connection) -> list[JobRecord]:
        return queue.list_jobs(conn, call.ws, app_id=app_id, status=status, after=after, limit=limit + 1)

    rows = await call.services.db.read(unit)
    return json_response(page(rows, limit, SCOPE, lambda j: (j.created, j.id), job_view))


async def get_job(request: Request) -> Response:
    call = await admin_call(request)
    job_id = request.path_params["job_id"]
    job = await call.services.db.read(lambda conn: queue.get(conn, call.ws, job_id))
    return json_response(job_view(job))


async def cancel_job(request: Request) -> Response:
    call = await admin_call(request)
    job_id = request.path_params["job_id"]

    def unit(conn: Connection) -> JobRecord:
        job = queue.cancel(conn, call.ws, job_id)
        audit(conn, call.ws, call.actor, "job.cancel", "Job", job_id, detail={"kind": job.kind})
        return job

    try:
        job = await call.services.db.write(unit)
    except queue.JobStateConflict as exc:
        raise Conflict(str(exc)) from None
    if call.services.worker is not None:  # this process runs it: stop it now, not at the next heartbeat
        call.services.worker.interrupt(job_id)
    return json_response(job_view(job))
