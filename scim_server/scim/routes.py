"""The /scim/v2 route table."""

from __future__ import annotations

from scim2_models import InvalidSyntaxException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scim_server.errors import scim_error
from scim_server.scim import discovery, groups, users
from scim_server.scim.bulk import bulk
from scim_server.scim.context import json_body, scim_call
from scim_server.scim.query import parse_list_query

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


async def _search_params(request: Request) -> dict:
    body = await json_body(request, request.app.state.services.settings.max_payload_size)
    if not isinstance(body, dict) or SEARCH_REQUEST not in (body.get("schemas") or []):
        raise InvalidSyntaxException(detail=f"'schemas' must list {SEARCH_REQUEST}.")
    return body


def _searcher(module: object):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        call = await scim_call(request)
        settings = call.services.settings
        params = await _search_params(request)
        query = parse_list_query(params, settings.default_page_size, settings.filter_max_results)
        return await module.search(call, query)  # type: ignore[attr-defined]

    return endpoint


async def _read_only(request: Request) -> Response:
    await scim_call(request)
    return scim_error(405, "Discovery endpoints are read-only.", None, {"Allow": "GET"})


def _discovery(path: str, endpoint) -> list[Route]:  # type: ignore[no-untyped-def]
    return [
        Route(path, endpoint, methods=["GET"]),
        Route(path, _read_only, methods=["POST", "PUT", "PATCH", "DELETE"]),
    ]


ROUTES = [
    Route("/Users", users.list_, methods=["GET"]),
    Route("/Users", users.create, methods=["POST"]),
    Route("/Users/.search", _searcher(users), methods=["POST"]),
    Route("/Users/{id}", users.get, methods=["GET"]),
    Route("/Users/{id}", users.replace, methods=["PUT"]),
    Route("/Users/{id}", users.patch, methods=["PATCH"]),
    Route("/Users/{id}", users.delete, methods=["DELETE"]),
    Route("/Groups", groups.list_, methods=["GET"]),
    Route("/Groups", groups.create, methods=["POST"]),
    Route("/Groups/.search", _searcher(groups), methods=["POST"]),
    Route("/Groups/{id}", groups.get, methods=["GET"]),
    Route("/Groups/{id}", groups.replace, methods=["PUT"]),
    Route("/Groups/{id}", groups.patch, methods=["PATCH"]),
    Route("/Groups/{id}", groups.delete, methods=["DELETE"]),
    Route("/Bulk", bulk, methods=["POST"]),
    *_discovery("/ServiceProviderConfig", discovery.service_provider_config),
    *_discovery("/ResourceTypes", discovery.resource_types),
    *_discovery("/ResourceTypes/{id}", discovery.resource_type),
    *_discovery("/Schemas", discovery.schemas),
    *_discovery("/Schemas/{id:path}", discovery.schema),
]
