"""/api/v1/jobs: parse, call ``services.jobs``, render."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scim_server.admin.common import admin_call, json_response, page_request, parse_body
from scim_server.services import jobs
from scim_server.services.errors import Invalid
from scim_server.services.schemas import ResolveJob


async def list_jobs(request: Request) -> Response:
    call = await admin_call(request)
    query = request.query_params
    return json_response(await jobs.list_jobs(call.services, call.principal, query.get("app_id"), query.get("status"),
                                              page_request(request)))  # fmt: skip


async def get_job(request: Request) -> Response:
    call = await admin_call(request)
    raw = request.query_params.get("wait") or "0"
    try:
        wait = float(raw)
    except ValueError:
        raise Invalid("wait must be a number of seconds.", field="wait") from None
    return json_response(await jobs.get_job(call.services, call.principal, request.path_params["job_id"], wait))


async def cancel_job(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await jobs.cancel(call.services, call.principal, request.path_params["job_id"]))


async def retry_job(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await jobs.retry(call.services, call.principal, request.path_params["job_id"]), 202)


async def resolve_job(request: Request) -> Response:
    call = await admin_call(request)
    body = await parse_body(request, ResolveJob)
    return json_response(await jobs.resolve(call.services, call.principal, request.path_params["job_id"], body))
