"""The /scim/v2 route table."""

from __future__ import annotations

from dataclasses import replace

import orjson
from scim2_models import InvalidFilterException, InvalidSyntaxException, InvalidValueException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scim_server.errors import scim_error
from scim_server.scim import discovery, groups, users
from scim_server.scim.bulk import bulk
from scim_server.scim.context import ScimCall, json_body, schemas_of, scim_call
from scim_server.scim.query import ListQuery, parse_list_query
from scim_server.scim.responses import list_response

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


async def _search_params(request: Request) -> dict:
    body = await json_body(request, request.app.state.services.settings.max_payload_size)
    if not isinstance(body, dict) or SEARCH_REQUEST not in schemas_of(body):
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


async def _window(module: object, call: ScimCall, q: ListQuery, offset: int, count: int) -> tuple[int, list[dict]] | None:
    """One resource type's total and resources [offset, offset+count); None if the filter does
    not apply to that type (an attribute it does not have)."""
    try:
        response = await module.search(call, replace(q, start_index=offset + 1, count=count, cursor=None))  # type: ignore[attr-defined]
    except InvalidFilterException:
        return None
    body = orjson.loads(response.body)
    return int(body["totalResults"]), list(body["Resources"])


async def root_search(request: Request) -> Response:
    """``POST /.search`` (RFC 7644 §3.4.3): Users then Groups, paged as one list."""
    call = await scim_call(request)
    settings = call.services.settings
    q = parse_list_query(await _search_params(request), settings.default_page_size, settings.filter_max_results)
    if q.cursor is not None:
        raise InvalidValueException(detail="Cursor paging is offered per resource type, not at the root.")
    offset, count = q.start_index - 1, q.count
    user_total = await _window(users, call, q, 0, 0)
    group_total = await _window(groups, call, q, 0, 0)
    if user_total is None and group_total is None:
        raise InvalidFilterException(detail="The filter applies to no resource type.")
    u_total = user_total[0] if user_total else 0
    found: list[dict] = []
    if user_total and offset < u_total and count:
        found += (await _window(users, call, q, offset, min(count, u_total - offset)) or (0, []))[1]
    if group_total and count > len(found):
        found += (await _window(groups, call, q, max(0, offset - u_total), count - len(found)) or (0, []))[1]
    total = u_total + (group_total[0] if group_total else 0)
    return list_response(found, total, q.start_index)


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
    Route("/.search", root_search, methods=["POST"]),
    Route("/Bulk", bulk, methods=["POST"]),
    *_discovery("/ServiceProviderConfig", discovery.service_provider_config),
    *_discovery("/ResourceTypes", discovery.resource_types),
    *_discovery("/ResourceTypes/{id}", discovery.resource_type),
    *_discovery("/Schemas", discovery.schemas),
    *_discovery("/Schemas/{id:path}", discovery.schema),
]
