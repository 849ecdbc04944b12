"""The /scim/v2 route table: each handler reads the HTTP request (caller, body, headers,
query), calls the SCIM service (scim/service.py) and renders its result.

Resource endpoints match regardless of case (``/users`` is ``/Users``, ``/bulk`` is
``/Bulk``), as Microsoft's reference SCIM server and its test collection expect.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from scim2_models import InvalidSyntaxException
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scim_server.scim import bulk, discovery, service
from scim_server.scim.context import ScimCall, json_body, schemas_of, scim_call
from scim_server.scim.filter_limits import FilterLimits
from scim_server.scim.query import ListQuery, default_list_query, parse_list_query
from scim_server.scim.resources import etag
from scim_server.scim.responses import ScimResponse, list_response
from scim_server.scim.results import Page, Written
from scim_server.scim.service import ResourceType

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
Endpoint = Callable[[Request], Awaitable[Response]]


class ScimRoute(Route):
    """A route whose path matches regardless of case (the path parameters keep theirs).

    No path parameter is ever ``.search`` (RFC 7644 §3.4.3 reserves it): ``DELETE
    /Users/.search`` is a 405 naming POST, not a lookup of a user whose id is ".search"."""

    def __init__(self, path: str, endpoint: Endpoint, *, methods: list[str]) -> None:
        super().__init__(path, endpoint, methods=methods)
        pattern = re.sub(r"\(\?P<(\w+)>", r"(?P<\1>(?!\.search(?:/|$))", self.path_regex.pattern)
        self.path_regex = re.compile(pattern, re.IGNORECASE)


# ------------------------------------------------------------------------------ reading requests


def _query_params(request: Request) -> ListQuery:
    settings = request.app.state.services.settings
    raw = request.scope.get("query_string")
    if not raw:
        return default_list_query(settings.default_page_size, settings.filter_max_results)
    limits = FilterLimits.from_settings(settings)
    return _parsed_query(raw, settings.default_page_size, settings.filter_max_results, limits)


@lru_cache(maxsize=1024)
def _parsed_query(raw: bytes, default_count: int, max_count: int, limits: FilterLimits) -> ListQuery:
    """IdPs repeat the same few query strings (``excludedAttributes=members``...): each is
    parsed once. A query that does not parse, or whose filter is over ``limits``, raises, and
    nothing is cached. The result is shared: treat it as immutable."""
    return parse_list_query(QueryParams(raw.decode("latin-1")), default_count, max_count, limits)


async def _search_query(request: Request, call: ScimCall) -> ListQuery:
    """The ListQuery of a ``.search`` body (RFC 7644 §3.4.3)."""
    settings = call.services.settings
    body = await json_body(request, settings.max_payload_size)
    if not isinstance(body, dict) or SEARCH_REQUEST not in schemas_of(body):
        raise InvalidSyntaxException(detail=f"'schemas' must list {SEARCH_REQUEST}.")
    limits = FilterLimits.from_settings(settings)
    return parse_list_query(body, settings.default_page_size, settings.filter_max_results, limits)


async def _body(request: Request, call: ScimCall) -> Any:
    return await json_body(request, call.services.settings.max_payload_size)


# ------------------------------------------------------------------------------ rendering results


def _written(result: Written) -> Response:
    headers: dict[str, str] = {}
    if result.version is not None:
        headers["ETag"] = etag(result.version)
    if result.location is not None:
        headers["Location"] = result.location
    if result.document is None:
        return Response(status_code=result.status, headers=headers)
    return ScimResponse(result.document, status_code=result.status, headers=headers)


def _page(result: Page) -> Response:
    return list_response(result.resources, result.total, result.start_index, result.next_cursor)


# ------------------------------------------------------------------------------ handlers


def _resource_routes(kind: ResourceType) -> list[Route]:
    """The seven routes of one resource type (RFC 7644 §3.2)."""

    async def list_(request: Request) -> Response:
        call = await scim_call(request)
        return _page(await call.services.db.read(await service.search(call, kind, _query_params(request))))

    async def search(request: Request) -> Response:
        call = await scim_call(request)
        unit = await service.search(call, kind, await _search_query(request, call))
        return _page(await call.services.db.read(unit))

    async def create(request: Request) -> Response:
        call = await scim_call(request)
        return _written(await call.write(kind.create(call, await _body(request, call))))

    async def get(request: Request) -> Response:
        call = await scim_call(request)
        found = await call.services.db.read(kind.get(call, request.path_params["id"], _query_params(request)))
        if request.headers.get("if-none-match") == found.etag:
            return Response(status_code=304, headers={"ETag": found.etag})
        return ScimResponse(found.document, headers={"ETag": found.etag})

    async def replace(request: Request) -> Response:
        call = await scim_call(request)
        unit = kind.replace(call, request.path_params["id"], await _body(request, call), request.headers.get("if-match"))
        return _written(await call.write(unit))

    async def patch(request: Request) -> Response:
        call = await scim_call(request)
        body = await _body(request, call)
        unit = kind.patch(call, request.path_params["id"], body, request.headers.get("if-match"), _query_params(request))
        return _written(await call.write(unit))

    async def delete(request: Request) -> Response:
        call = await scim_call(request)
        return _written(await call.write(kind.delete(call, request.path_params["id"], request.headers.get("if-match"))))

    path = "/" + kind.endpoint
    return [
        ScimRoute(path, list_, methods=["GET"]),
        ScimRoute(path, create, methods=["POST"]),
        ScimRoute(path + "/.search", search, methods=["POST"]),
        ScimRoute(path + "/{id}", get, methods=["GET"]),
        ScimRoute(path + "/{id}", replace, methods=["PUT"]),
        ScimRoute(path + "/{id}", patch, methods=["PATCH"]),
        ScimRoute(path + "/{id}", delete, methods=["DELETE"]),
    ]


async def root_search(request: Request) -> Response:
    """``POST /.search`` (RFC 7644 §3.4.3)."""
    call = await scim_call(request)
    return _page(await call.services.db.read(await service.search_all(call, await _search_query(request, call))))


async def bulk_request(request: Request) -> Response:
    """``POST /Bulk`` (RFC 7644 §3.7): 200 with each operation's outcome."""
    call = await scim_call(request)
    request_id = getattr(request.state, "request_id", "-")
    return ScimResponse(await bulk.run(call, await _body(request, call), request_id))


def _discovery(path: str, endpoint: Endpoint) -> list[Route]:
    """Discovery endpoints are read-only: any other method is the router's 405, whose
    ``Allow`` lists what the path serves (scim_server/allow.py)."""
    return [ScimRoute(path, endpoint, methods=["GET"])]


ROUTES: list[Route] = [
    *_resource_routes(service.USERS),
    *_resource_routes(service.GROUPS),
    ScimRoute("/.search", root_search, methods=["POST"]),
    ScimRoute("/Bulk", bulk_request, methods=["POST"]),
    *_discovery("/ServiceProviderConfig", discovery.service_provider_config),
    *_discovery("/ResourceTypes", discovery.resource_types),
    *_discovery("/ResourceTypes/{id}", discovery.resource_type),
    *_discovery("/Schemas", discovery.schemas),
    *_discovery("/Schemas/{id:path}", discovery.schema),
]
