"""/api/v1/jobs: automation tasks with status, progress, result and error."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from scim_server.admin.common import admin_call, decode_cursor, json_response, page, page_params
from scim_server.audit.log import append as audit
from scim_server.errors import Conflict, Invalid, NotFound
from scim_server.jobs import queue
from scim_server.jobs.queue import JobRecord
from scim_server.store.db import iso_utc

STATUSES = ("queued", "running", "completed", "failed", "cancelled")


def job_view(job: JobRecord) -> dict[str, Any]:
    return {
        "id": job.id, "app_id": job.app_id, "kind": job.kind, "status": job.status,
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "attempts": job.attempts, "max_attempts": job.max_attempts, "payload": job.payload,
        "result": job.result, "error": job.error, "created": iso_utc(job.created), "started": iso_utc(job.started),
        "finished": iso_utc(job.finished),
    }  # fmt: skip


async def list_jobs(request: Request) -> Response:
    call = await admin_call(request)
    cursor, limit = page_params(request)
    status = request.query_params.get("status")
    if status is not None and status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}.")
    app_id = request.query_params.get("app_id")
    after = None
    if cursor:
        created, job_id = decode_cursor(cursor, 2)
        try:
            after = (datetime.fromisoformat(created), job_id)
        except ValueError:
            raise Invalid("The cursor is not one this server issued.", code="invalid_cursor") from None

    def unit(conn: Connection) -> list[JobRecord]:
        return queue.list_jobs(conn, call.ws, app_id=app_id, status=status, after=after, limit=limit + 1)

    rows = await call.services.db.read(unit)
    items = [job_view(j) | {"_created": j.created.isoformat()} for j in rows]
    out = page(items, limit, ("_created", "id"))
    for item in out["items"]:
        item.pop("_created")
    return json_response(out)


async def get_job(request: Request) -> Response:
    call = await admin_call(request)
    job_id = request.path_params["job_id"]
    try:
        job = await call.services.db.read(lambda conn: queue.get(conn, call.ws, job_id))
    except queue.JobNotFound:
        raise NotFound(f"Job {job_id} not found.") from None
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
    except queue.JobNotFound:
        raise NotFound(f"Job {job_id} not found.") from None
    except queue.JobStateConflict as exc:
        raise Conflict(str(exc)) from None
    if call.services.worker is not None:  # this process runs it: stop it now, not at the next heartbeat
        call.services.worker.interrupt(job_id)
    return json_response(job_view(job))
