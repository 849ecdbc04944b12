"""HTTP face of notifications (admin-scoped tokens); parse, call ``notify.service``, render.

    GET  /api/v1/notifications/settings             the workspace's addresses (and the instance's)
    PUT  /api/v1/notifications/settings             replace the workspace's addresses
    GET  /api/v1/notifications/deliveries?channel=  every delivery (email, webhooks), newest first
    GET  /api/v1/webhooks                           webhooks (no secrets)
    POST /api/v1/webhooks                           register one; the secret is in this answer only
    DELETE /api/v1/webhooks/{webhook_id}            remove one (its pending deliveries are cancelled)
    GET  /api/v1/webhooks/{webhook_id}/deliveries   its deliveries, newest first, with status
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scim_server.admin.common import admin_call, json_response, page_request, parse_body
from scim_server.notify import service


async def get_settings(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await service.get_settings(call.services, call.principal))


async def put_settings(request: Request) -> Response:
    call = await admin_call(request)
    body = await parse_body(request, service.NotificationSettingsBody)
    return json_response(await service.put_settings(call.services, call.principal, body))


async def list_webhooks(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await service.list_webhooks(call.services, call.principal, page_request(request)))


async def create_webhook(request: Request) -> Response:
    call = await admin_call(request)
    body = await parse_body(request, service.WebhookBody)
    return json_response(await service.create_webhook(call.services, call.principal, body), 201)


async def delete_webhook(request: Request) -> Response:
    call = await admin_call(request)
    await service.delete_webhook(call.services, call.principal, request.path_params["webhook_id"])
    return Response(status_code=204)


async def all_deliveries(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await service.list_deliveries(call.services, call.principal, None, page_request(request),
                                                       request.query_params.get("channel") or None))  # fmt: skip


async def list_deliveries(request: Request) -> Response:
    call = await admin_call(request)
    return json_response(await service.list_deliveries(call.services, call.principal, request.path_params["webhook_id"],
                                                       page_request(request)))  # fmt: skip


ROUTES = [
    Route("/notifications/settings", get_settings, methods=["GET"]),
    Route("/notifications/settings", put_settings, methods=["PUT"]),
    Route("/notifications/deliveries", all_deliveries, methods=["GET"]),
    Route("/webhooks", list_webhooks, methods=["GET"]),
    Route("/webhooks", create_webhook, methods=["POST"]),
    Route("/webhooks/{webhook_id}", delete_webhook, methods=["DELETE"]),
    Route("/webhooks/{webhook_id}/deliveries", list_deliveries, methods=["GET"]),
]
