"""/api/v1/catalog and /api/v1/apps: parse, call ``services.apps``, render."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scim_server.admin.common import admin_call, json_response, page_request, parse_body
from scim_server.services import apps
from scim_server.services.schemas import ConfigureApp, ConnectApp


async def catalog(request: Request) -> Response:
    await admin_call(request)
    return json_response({"items": apps.catalog()})


async def automation_accounts(request: Request) -> Response:
    call = await admin_call(request)
    found = await apps.automation_accounts(call.services, call.principal, request.path_params["kind"])
    return json_response({"items": found})


async def connect(request: Request) -> Response:
    call = await admin_call(request)
    body = await parse_body(request, ConnectApp)
    return json_response(await apps.connect(call.services, call.principal, body), 201)


async def get_app(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await apps.get_app(call.services, call.principal, request.path_params["app_id"]))


async def list_apps(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await apps.list_apps(call.services, call.principal, page_request(request)))


async def configure(request: Request) -> Response:
    call = await admin_call(request)
    body = await parse_body(request, ConfigureApp)
    return json_response(await apps.configure(call.services, call.principal, request.path_params["app_id"], body))


async def remove(request: Request) -> Response:
    call = await admin_call(request)
    await apps.remove(call.services, call.principal, request.path_params["app_id"], request.query_params.get("reason"))
    return Response(status_code=204)
