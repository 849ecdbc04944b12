"""/Groups. Member changes go to member rows (see store/groups.py); a read with
``excludedAttributes=members`` never touches them."""

from __future__ import annotations

from collections.abc import Callable

from scim2_models import Context
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from scim_server.scim import filters
from scim_server.scim.changes import record
from scim_server.scim.context import ScimCall, json_body, scim_call
from scim_server.scim.patch import apply_group_patch, normalize_patch
from scim_server.scim.projection import project, wants_attribute
from scim_server.scim.query import Finders, ListQuery, finder
from scim_server.scim.resources import etag, group_fields_from_doc, member_refs, parse_group, render
from scim_server.scim.responses import ScimResponse
from scim_server.scim.users import _list, _query_params
from scim_server.store import groups as store
from scim_server.store.directory import StoredResource, check_version
from scim_server.store.groups import MemberChange

RESOURCE = "Group"
# RFC 7644 §3.5.2: a successful PATCH answers 200 with the whole resource, or 204 (No Content);
# 200 is required when the request names ``attributes``. Rendering every member of a large
# group on each member change costs more than the change (2000 members: ~2 ms), and Entra's
# and Okta's documented group PATCH exchanges answer 204, so 204 it is unless the caller
# asks for attributes (``attributes``/``excludedAttributes``).
PATCH_RETURNS_RESOURCE = False


def _render(call: ScimCall, conn: Connection, stored: StoredResource, q: ListQuery | None = None) -> dict:
    attrs, excl = (q.attributes, q.excluded) if q else (None, None)
    extra = None
    if wants_attribute("members", attrs, excl):
        entries = store.members_of(conn, [stored.id])[stored.id]
        extra = {"members": member_refs(entries, call.base_url)} if entries else None
    return project(render(stored, RESOURCE, call.base_url, extra), attrs, excl)


def _respond(body: dict, stored: StoredResource, status: int = 200) -> ScimResponse:
    headers = {"ETag": etag(stored.version)}
    if status == 201:
        headers["Location"] = body["meta"]["location"]
    return ScimResponse(body, status_code=status, headers=headers)


async def create(request: Request) -> Response:
    call = await scim_call(request)
    fields, member_ids = parse_group(await json_body(request, call.services.settings.max_payload_size))

    def unit(conn: Connection) -> tuple[dict, StoredResource]:
        stored = store.create_group(conn, call.ws, fields, member_ids)
        record(conn, call, "scim.group.create", RESOURCE, stored.id,
              detail={"displayName": fields.display_name, "members_added": len(member_ids)})  # fmt: skip
        return _render(call, conn, stored), stored

    body, stored = await call.write(unit)
    return _respond(body, stored, 201)


async def get(request: Request) -> Response:
    call = await scim_call(request)
    group_id = request.path_params["id"]
    q = _query_params(request)

    def unit(conn: Connection) -> tuple[dict, StoredResource]:
        stored = store.get_group(conn, call.ws, group_id)
        return _render(call, conn, stored, q), stored

    body, stored = await call.services.db.read(unit)
    if request.headers.get("if-none-match") == etag(stored.version):
        return Response(status_code=304, headers={"ETag": etag(stored.version)})
    return _respond(body, stored)


async def replace(request: Request) -> Response:
    call = await scim_call(request)
    group_id = request.path_params["id"]
    body = await json_body(request, call.services.settings.max_payload_size)
    fields, member_ids = parse_group(body, Context.RESOURCE_REPLACEMENT_REQUEST)
    if_match = request.headers.get("if-match")

    def unit(conn: Connection) -> tuple[dict, StoredResource]:
        stored = store.replace_group(conn, call.ws, group_id, fields, member_ids, if_match)
        record(conn, call, "scim.group.replace", RESOURCE, group_id,
              detail={"displayName": fields.display_name, "members": len(member_ids)})  # fmt: skip
        return _render(call, conn, stored), stored

    out, stored = await call.write(unit)
    return _respond(out, stored)


async def patch(request: Request) -> Response:
    call = await scim_call(request)
    group_id = request.path_params["id"]
    operations = normalize_patch(await json_body(request, call.services.settings.max_payload_size))
    if_match = request.headers.get("if-match")
    q = _query_params(request)

    def unit(conn: Connection) -> tuple[dict | None, StoredResource]:
        current = store.get_group(conn, call.ws, group_id)
        result = apply_group_patch(current.doc, operations)
        fields = group_fields_from_doc(result.doc) if result.doc != current.doc else None
        change = MemberChange(
            add=tuple(result.add_members),
            remove=tuple(result.remove_members),
            replace=None if result.replace_members is None else tuple(result.replace_members),
            remove_all=result.remove_all_members,
        )
        record(conn, call, "scim.group.patch", RESOURCE, group_id,
              detail={"members_added": len(change.add), "members_removed": len(change.remove),
                      "members_replaced": change.replace is not None or change.remove_all,
                      "attributes_changed": fields is not None})  # fmt: skip
        # Last: it locks the group's row until the commit (store.patch_group).
        stored = store.patch_group(conn, call.ws, group_id, fields, change, if_match, current)
        if not (PATCH_RETURNS_RESOURCE or q.attributes or q.excluded):
            return None, stored
        return _render(call, conn, stored, q), stored

    body, stored = await call.write(unit)
    if body is None:
        return Response(status_code=204, headers={"ETag": etag(stored.version)})
    return _respond(body, stored)


async def delete(request: Request) -> Response:
    call = await scim_call(request)
    group_id = request.path_params["id"]
    if_match = request.headers.get("if-match")

    def unit(conn: Connection) -> None:
        current = store.get_group(conn, call.ws, group_id)
        check_version(current.version, if_match)
        store.delete_group(conn, call.ws, group_id, current)
        record(conn, call, "scim.group.delete", RESOURCE, group_id,
              detail={"displayName": current.doc.get("displayName")})  # fmt: skip

    await call.write(unit)
    return Response(status_code=204)


FINDERS = Finders(store.EQ_ATTRIBUTES, store.find_groups_eq, filters.group_where, filters.group_order_by,
                  store.list_groups, store.count_groups)


async def search(call: ScimCall, q: ListQuery) -> Response:
    return await _search(call, q, finder(FINDERS, q, call.ws))


async def _search(
    call: ScimCall, q: ListQuery, find: Callable[[Connection], tuple[int, list[StoredResource]]]
) -> Response:
    with_members = wants_attribute("members", q.attributes, q.excluded)

    def unit(conn: Connection) -> tuple[int, list[dict]]:
        total, rows = find(conn)
        entries = store.members_of(conn, [r.id for r in rows]) if with_members and rows else {}
        return total, [
            project(
                render(r, RESOURCE, call.base_url,
                       {"members": member_refs(entries[r.id], call.base_url)} if entries.get(r.id) else None),
                q.attributes,
                q.excluded,
            )
            for r in rows
        ]  # fmt: skip

    total, resources = await call.services.db.read(unit)
    return _list(q, total, resources)


async def list_(request: Request) -> Response:
    call = await scim_call(request)
    return await search(call, _query_params(request))
