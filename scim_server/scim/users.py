"""/Users: each handler parses, runs one unit of work (change + audit event, one
transaction) and renders. Reads render the stored document; nothing is re-validated."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from scim2_models import Context
from sqlalchemy import Connection
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from scim_server.scim import filters
from scim_server.scim.changes import record
from scim_server.scim.context import ScimCall, json_body, scim_call
from scim_server.scim.patch import apply_user_patch, normalize_patch
from scim_server.scim.projection import project, wants_attribute
from scim_server.scim.query import (
    Finders,
    ListQuery,
    default_list_query,
    encode_cursor,
    finder,
    parse_list_query,
)
from scim_server.scim.resources import etag, parse_user, render, user_fields_from_doc
from scim_server.scim.responses import ScimResponse, list_response
from scim_server.store import directory as store
from scim_server.store.directory import StoredResource, check_version

RESOURCE = "User"


def _render_one(
    call: ScimCall, conn: Connection, stored: StoredResource, q: ListQuery | None = None,
    memberships: list[dict] | None = None,
) -> dict:
    """The user as returned; ``memberships``: its groups when the caller already has them."""
    attrs, excl = (q.attributes, q.excluded) if q else (None, None)
    extra = None
    if wants_attribute("groups", attrs, excl):
        if memberships is None:
            memberships = store.groups_of(conn, call.ws, [stored.id])[stored.id]
        extra = {"groups": memberships} if memberships else None
    return project(render(stored, RESOURCE, call.base_url, extra), attrs, excl)


def _respond(body: dict, stored: StoredResource, status: int = 200, location: bool = False) -> ScimResponse:
    headers = {"ETag": etag(stored.version)}
    if location:
        headers["Location"] = body["meta"]["location"]
    return ScimResponse(body, status_code=status, headers=headers)


def _query_params(request: Request) -> ListQuery:
    settings = request.app.state.services.settings
    raw = request.scope.get("query_string")
    if not raw:
        return default_list_query(settings.default_page_size, settings.filter_max_results)
    return _parsed_query(raw, settings.default_page_size, settings.filter_max_results)


@lru_cache(maxsize=1024)
def _parsed_query(raw: bytes, default_count: int, max_count: int) -> ListQuery:
    """IdPs repeat the same few query strings (``excludedAttributes=members``...): each is
    parsed once. A query that does not parse raises, and nothing is cached. The result is
    shared: treat it as immutable."""
    return parse_list_query(QueryParams(raw.decode("latin-1")), default_count, max_count)


async def create(request: Request) -> Response:
    call = await scim_call(request)
    fields = parse_user(await json_body(request, call.services.settings.max_payload_size))

    def unit(conn: Connection) -> dict:
        stored = store.create_user(conn, call.ws, fields)
        record(conn, call, "scim.user.create", RESOURCE, stored.id,
              detail={"userName": fields.user_name})  # fmt: skip
        return render(stored, RESOURCE, call.base_url)

    body = await call.write(unit)
    return ScimResponse(
        body, status_code=201, headers={"ETag": body["meta"]["version"], "Location": body["meta"]["location"]}
    )


async def get(request: Request) -> Response:
    call = await scim_call(request)
    user_id = request.path_params["id"]
    q = _query_params(request)

    def unit(conn: Connection) -> tuple[dict, StoredResource]:
        stored = store.get_user(conn, call.ws, user_id)
        return _render_one(call, conn, stored, q), stored

    body, stored = await call.services.db.read(unit)
    if request.headers.get("if-none-match") == etag(stored.version):
        return Response(status_code=304, headers={"ETag": etag(stored.version)})
    return _respond(body, stored)


async def replace(request: Request) -> Response:
    call = await scim_call(request)
    user_id = request.path_params["id"]
    fields = parse_user(await json_body(request, call.services.settings.max_payload_size),
                        Context.RESOURCE_REPLACEMENT_REQUEST)  # fmt: skip
    if_match = request.headers.get("if-match")

    def unit(conn: Connection) -> tuple[dict, StoredResource]:
        current, memberships = store.get_user_and_groups(conn, call.ws, user_id)
        check_version(current.version, if_match)
        stored = store.replace_user(conn, call.ws, user_id, fields, expected_version=current.version,
                                    current=current)  # fmt: skip
        record(conn, call, "scim.user.replace", RESOURCE, user_id,
              detail=_changed(current.doc, fields.doc))  # fmt: skip
        return _render_one(call, conn, stored, memberships=memberships), stored

    body, stored = await call.write(unit)
    return _respond(body, stored)


async def patch(request: Request) -> Response:
    call = await scim_call(request)
    user_id = request.path_params["id"]
    operations = normalize_patch(await json_body(request, call.services.settings.max_payload_size))
    if_match = request.headers.get("if-match")

    def unit(conn: Connection) -> tuple[dict, StoredResource]:
        current, memberships = store.get_user_and_groups(conn, call.ws, user_id)
        check_version(current.version, if_match)
        doc = apply_user_patch(current.doc, operations)
        password = doc.pop("password", None)
        fields = user_fields_from_doc(doc, password)
        stored = store.replace_user(conn, call.ws, user_id, fields, expected_version=current.version,
                                    current=current)  # fmt: skip
        record(conn, call, "scim.user.patch", RESOURCE, user_id,
              detail=_changed(current.doc, doc) | ({"password": "changed"} if password else {}))  # fmt: skip
        return _render_one(call, conn, stored, memberships=memberships), stored

    body, stored = await call.write(unit)
    return _respond(body, stored)


async def delete(request: Request) -> Response:
    call = await scim_call(request)
    user_id = request.path_params["id"]
    if_match = request.headers.get("if-match")

    def unit(conn: Connection) -> None:
        current = store.get_user(conn, call.ws, user_id, for_update=True)
        check_version(current.version, if_match)
        record(conn, call, "scim.user.delete", RESOURCE, user_id,
              detail={"userName": current.doc.get("userName")})  # fmt: skip
        # Last: it locks the user's groups until the commit (store.delete_user).
        store.delete_user(conn, call.ws, user_id, current)

    await call.write(unit)
    return Response(status_code=204)


FINDERS = Finders(store.EQ_ATTRIBUTES, store.find_users_eq, filters.user_where, filters.user_order_by,
                  store.list_users, store.count_users)


async def search(call: ScimCall, q: ListQuery) -> Response:
    return await _search(call, q, finder(FINDERS, q, call.ws))


async def _search(
    call: ScimCall, q: ListQuery, find: Callable[[Connection], tuple[int, list[StoredResource]]]
) -> Response:
    with_groups = wants_attribute("groups", q.attributes, q.excluded)

    def unit(conn: Connection) -> tuple[int, list[dict]]:
        total, rows = find(conn)
        extra = store.groups_of(conn, call.ws, [r.id for r in rows]) if with_groups and rows else {}
        return total, [
            project(
                render(r, RESOURCE, call.base_url, {"groups": extra[r.id]} if extra.get(r.id) else None),
                q.attributes,
                q.excluded,
            )
            for r in rows
        ]

    total, resources = await call.services.db.read(unit)
    return _list(q, total, resources)


def _list(q: ListQuery, total: int, resources: list[dict]) -> Response:
    if q.cursor is None:
        return list_response(resources, total, q.start_index)
    following = q.offset + len(resources)
    return list_response(resources, total, None, encode_cursor(following) if following < total else None)


async def list_(request: Request) -> Response:
    call = await scim_call(request)
    return await search(call, _query_params(request))


def _changed(before: dict, after: dict) -> dict:
    """Names of the top-level attributes a write changed: what the audit trail records."""
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {"changed": keys} if keys else {}
