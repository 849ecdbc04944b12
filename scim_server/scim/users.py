"""/Users: each handler parses, runs one unit of work (change + audit event, one
transaction) and renders. Reads render the stored document; nothing is re-validated."""

from __future__ import annotations

from scim2_models import Context
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from scim_server.audit.log import append as audit
from scim_server.scim import filters
from scim_server.scim.context import ScimCall, json_body, scim_call
from scim_server.scim.patch import apply_user_patch, normalize_patch
from scim_server.scim.projection import project, wants_attribute
from scim_server.scim.query import ListQuery, encode_cursor, parse_list_query
from scim_server.scim.resources import etag, parse_user, render, user_fields_from_doc
from scim_server.scim.responses import ScimResponse, list_response
from scim_server.store import directory as store
from scim_server.store.directory import StoredResource, check_version

RESOURCE = "User"


def _render_one(call: ScimCall, conn: Connection, stored: StoredResource, q: ListQuery | None = None) -> dict:
    attrs, excl = (q.attributes, q.excluded) if q else (None, None)
    extra = None
    if wants_attribute("groups", attrs, excl):
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
    return parse_list_query(request.query_params, settings.default_page_size, settings.filter_max_results)


async def create(request: Request) -> Response:
    call = await scim_call(request)
    fields = parse_user(await json_body(request, call.services.settings.max_payload_size))

    def unit(conn: Connection) -> dict:
        stored = store.create_user(conn, call.ws, fields)
        audit(conn, call.ws, call.principal.actor, "scim.user.create", RESOURCE, stored.id,
              detail={"userName": fields.user_name})  # fmt: skip
        return render(stored, RESOURCE, call.base_url)

    body = await call.services.db.write(unit)
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
        current = store.get_user(conn, call.ws, user_id, for_update=True)
        check_version(current.version, if_match)
        stored = store.replace_user(conn, call.ws, user_id, fields, expected_version=current.version)
        audit(conn, call.ws, call.principal.actor, "scim.user.replace", RESOURCE, user_id,
              detail=_changed(current.doc, fields.doc))  # fmt: skip
        return _render_one(call, conn, stored), stored

    body, stored = await call.services.db.write(unit)
    return _respond(body, stored)


async def patch(request: Request) -> Response:
    call = await scim_call(request)
    user_id = request.path_params["id"]
    operations = normalize_patch(await json_body(request, call.services.settings.max_payload_size))
    if_match = request.headers.get("if-match")

    def unit(conn: Connection) -> tuple[dict, StoredResource]:
        current = store.get_user(conn, call.ws, user_id, for_update=True)
        check_version(current.version, if_match)
        doc = apply_user_patch(current.doc, operations)
        password = doc.pop("password", None)
        fields = user_fields_from_doc(doc, password)
        stored = store.replace_user(conn, call.ws, user_id, fields, expected_version=current.version)
        audit(conn, call.ws, call.principal.actor, "scim.user.patch", RESOURCE, user_id,
              detail=_changed(current.doc, doc) | ({"password": "changed"} if password else {}))  # fmt: skip
        return _render_one(call, conn, stored), stored

    body, stored = await call.services.db.write(unit)
    return _respond(body, stored)


async def delete(request: Request) -> Response:
    call = await scim_call(request)
    user_id = request.path_params["id"]
    if_match = request.headers.get("if-match")

    def unit(conn: Connection) -> None:
        current = store.get_user(conn, call.ws, user_id, for_update=True)
        check_version(current.version, if_match)
        store.delete_user(conn, call.ws, user_id)
        audit(conn, call.ws, call.principal.actor, "scim.user.delete", RESOURCE, user_id,
              detail={"userName": current.doc.get("userName")})  # fmt: skip

    await call.services.db.write(unit)
    return Response(status_code=204)


async def search(call: ScimCall, q: ListQuery) -> Response:
    where = filters.user_where(q.filter, call.ws) if q.filter else None
    order = filters.user_order_by(q.sort_by, q.sort_order)

    def unit(conn: Connection) -> tuple[int, list[dict]]:
        total = store.count_users(conn, call.ws, where)
        rows = store.list_users(conn, call.ws, where, order, q.offset, q.count) if q.count else []
        extra = (
            store.groups_of(conn, call.ws, [r.id for r in rows])
            if wants_attribute("groups", q.attributes, q.excluded)
            else {}
        )
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
