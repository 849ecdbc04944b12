"""/api/v1/directory/users: parse, call ``services.directory``, render (admin scope)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scim_server.admin.common import admin_call, json_response, page_request
from scim_server.services import directory


async def search_users(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await directory.search_users(call.services, call.principal, request.query_params.get("q"),
                                                      page_request(request)))  # fmt: skip


async def get_user(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await directory.get_user(call.services, call.principal, request.path_params["user_id"]))
