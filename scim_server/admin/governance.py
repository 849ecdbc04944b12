"""/api/v1/apps/{app_id}/rules and /api/v1/reports: parse, call ``services.rules`` /
``services.reports``, render."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scim_server.admin.common import admin_call, json_response, page_request, parse_body
from scim_server.services import reports, rules
from scim_server.services.schemas import ApplyReport, RuleBody


async def list_rules(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await rules.list_rules(call.services, call.principal, request.path_params["app_id"],
                                                page_request(request)))  # fmt: skip


async def create_rule(request: Request) -> Response:
    call = await admin_call(request)
    body = await parse_body(request, RuleBody)
    return json_response(await rules.create_rule(call.services, call.principal, request.path_params["app_id"], body), 201)


async def delete_rule(request: Request) -> Response:
    call = await admin_call(request)
    await rules.delete_rule(call.services, call.principal, request.path_params["app_id"], request.path_params["rule_id"])
    return Response(status_code=204)


async def list_reports(request: Request) -> Response:
    call = await admin_call(request)
    query = request.query_params
    return json_response(await reports.list_reports(call.services, call.principal, query.get("app_id"),
                                                    query.get("status"), page_request(request)))  # fmt: skip


async def get_report(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await reports.get_report(call.services, call.principal, request.path_params["report_id"]))


async def apply_report(request: Request) -> Response:
    call = await admin_call(request)
    body = await parse_body(request, ApplyReport)
    out = await reports.apply_report(call.services, call.principal, request.path_params["report_id"], body)
    return json_response(out, 202 if out["job_id"] else 200)
