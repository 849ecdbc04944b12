"""/api/v1/apps/{app_id}/...: check, members and the actions on them, invitations, plan, assets.
Parse, call ``services.members``, render: 202 when the action queued a job for the app."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from scim_server.admin.common import admin_call, json_response, page_request, parse_body
from scim_server.services import members
from scim_server.services.schemas import ExemptBody, InviteBody, MatchBody, RolesBody


def _ids(request: Request) -> tuple[str, str]:
    return request.path_params["app_id"], request.path_params["member_id"]


def _queued(out: dict[str, Any]) -> Response:
    return json_response(out, 202 if "job_id" in out else 200)


async def check(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await members.check(call.services, call.principal, request.path_params["app_id"]), 202)


async def list_members(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await members.list_members(call.services, call.principal, request.path_params["app_id"],
                                                    request.query_params.get("state"), page_request(request)))  # fmt: skip


async def get_member(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await members.get_member(call.services, call.principal, *_ids(request)))


async def match(request: Request) -> Response:
    call = await admin_call(request)
    body = await parse_body(request, MatchBody)
    return json_response(await members.match(call.services, call.principal, *_ids(request), body))


async def reassign(request: Request) -> Response:
    call = await admin_call(request)
    body = await parse_body(request, MatchBody)
    return json_response(await members.reassign(call.services, call.principal, *_ids(request), body))


async def exempt(request: Request) -> Response:
    call = await admin_call(request)
    body = await parse_body(request, ExemptBody)
    return json_response(await members.exempt(call.services, call.principal, *_ids(request), body))


async def unexempt(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await members.unexempt(call.services, call.principal, *_ids(request)))


async def remove(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await members.remove(call.services, call.principal, *_ids(request)), 202)


async def change_roles(request: Request) -> Response:
    call = await admin_call(request)
    body = await parse_body(request, RolesBody)
    return _queued(await members.change_roles(call.services, call.principal, *_ids(request), body))


async def invite(request: Request) -> Response:
    call = await admin_call(request)
    body = await parse_body(request, InviteBody)
    return json_response(await members.invite(call.services, call.principal, request.path_params["app_id"], body), 202)


async def plan(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await members.plan(call.services, call.principal, request.path_params["app_id"]))


async def assets(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await members.assets(call.services, call.principal, request.path_params["app_id"],
                                              page_request(request)))  # fmt: skip
