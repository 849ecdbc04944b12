"""SCIM Users without HTTP (RFC 7644 §3.3-3.6).

Each write validates its input when it is called (raising scim2_models exceptions or a
pydantic ValidationError) and returns its unit of work: the change, its audit event and its
outbox jobs (``changes.record``), for the caller to run in one transaction. Each read
returns a unit that renders the stored document; nothing is re-validated on the way out.
"""

from __future__ import annotations

from typing import Any

from scim2_models import Context
from sqlalchemy import Connection

from scim_server.scim import filters
from scim_server.scim.changes import before_after, record
from scim_server.scim.context import ScimCall
from scim_server.scim.patch import apply_user_patch, normalize_patch
from scim_server.scim.projection import project, wants_attribute
from scim_server.scim.query import Finders, ListQuery, finder
from scim_server.scim.resources import parse_user, render, user_fields_from_doc
from scim_server.scim.results import Finder, Found, Page, Unit, Written, page
from scim_server.store import directory as store
from scim_server.store.directory import StoredResource, check_version

RESOURCE = "User"


def _render_one(
    call: ScimCall, conn: Connection, stored: StoredResource, q: ListQuery | None = None,
    memberships: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The user as returned; ``memberships``: its groups when the caller already has them."""
    attrs, excl = (q.attributes, q.excluded) if q else (None, None)
    extra = None
    if wants_attribute("groups", attrs, excl):
        if memberships is None:
            memberships = store.groups_of(conn, call.ws, [stored.id])[stored.id]
        extra = {"groups": memberships} if memberships else None
    return project(render(stored, RESOURCE, call.base_url, extra), attrs, excl)


def create(call: ScimCall, body: Any) -> Unit[Written]:
    """POST /Users: 201 with the user; UniquenessException (409) when the userName is taken."""
    fields = parse_user(body)

    def unit(conn: Connection) -> Written:
        stored = store.create_user(conn, call.ws, fields)
        record(conn, call, "scim.user.create", RESOURCE, stored.id,
               detail={"userName": fields.user_name}, changes=before_after({}, fields.doc))  # fmt: skip
        doc = render(stored, RESOURCE, call.base_url)
        return Written(201, doc, stored.version, doc["meta"]["location"])

    return unit


def get(call: ScimCall, user_id: str, q: ListQuery | None) -> Unit[Found]:
    """GET /Users/{id}; NotFoundException (404)."""

    def unit(conn: Connection) -> Found:
        stored = store.get_user(conn, call.ws, user_id)
        return Found(_render_one(call, conn, stored, q), stored.version)

    return unit


def replace(call: ScimCall, user_id: str, body: Any, if_match: str | None) -> Unit[Written]:
    """PUT /Users/{id}: 404, 412 on a stale ``If-Match`` (RFC 7644 §3.14), 409 on a taken userName."""
    fields = parse_user(body, Context.RESOURCE_REPLACEMENT_REQUEST)

    def unit(conn: Connection) -> Written:
        current, memberships = store.get_user_and_groups(conn, call.ws, user_id)
        check_version(current.version, if_match)
        stored = store.replace_user(conn, call.ws, user_id, fields, expected_version=current.version,
                                    current=current)  # fmt: skip
        record(conn, call, "scim.user.replace", RESOURCE, user_id,
               detail=_changed(current.doc, fields.doc), changes=before_after(current.doc, fields.doc))  # fmt: skip
        return Written(200, _render_one(call, conn, stored, memberships=memberships), stored.version)

    return unit


def patch(call: ScimCall, user_id: str, body: Any, if_match: str | None, q: ListQuery | None) -> Unit[Written]:
    """PATCH /Users/{id} (RFC 7644 §3.5.2): 200 with the user, projected by ``q``."""
    operations = normalize_patch(body)

    def unit(conn: Connection) -> Written:
        current, memberships = store.get_user_and_groups(conn, call.ws, user_id)
        check_version(current.version, if_match)
        doc = apply_user_patch(current.doc, operations)
        password = doc.pop("password", None)
        fields = user_fields_from_doc(doc, password)
        stored = store.replace_user(conn, call.ws, user_id, fields, expected_version=current.version,
                                    current=current)  # fmt: skip
        record(conn, call, "scim.user.patch", RESOURCE, user_id,
               detail=_changed(current.doc, doc) | ({"password": "changed"} if password else {}),
               changes=before_after(current.doc, doc))  # fmt: skip
        return Written(200, _render_one(call, conn, stored, q, memberships), stored.version)

    return unit


def delete(call: ScimCall, user_id: str, if_match: str | None) -> Unit[Written]:
    """DELETE /Users/{id}: 204; the user leaves every group. Of concurrent deletes exactly one
    succeeds (the user's row is locked first), the others are 404."""

    def unit(conn: Connection) -> Written:
        current = store.get_user(conn, call.ws, user_id, for_update=True)
        check_version(current.version, if_match)
        record(conn, call, "scim.user.delete", RESOURCE, user_id,
               detail={"userName": current.doc.get("userName")}, changes=before_after(current.doc, {}))  # fmt: skip
        # Last: it locks the user's groups until the commit (store.delete_user).
        store.delete_user(conn, call.ws, user_id, current)
        return Written(204, None, None)

    return unit


FINDERS = Finders(store.EQ_ATTRIBUTES, store.find_users_eq, filters.user_where, filters.user_order_by,
                  store.list_users, store.count_users)  # fmt: skip


def search(call: ScimCall, q: ListQuery, find: Finder | None = None) -> Unit[Page]:
    """GET /Users, POST /Users/.search (RFC 7644 §3.4.2-3.4.3). ``find``: the query's rows, as
    ``query.finder`` plans them (``service.search`` plans them off the event loop); planned
    here when not given, raising InvalidFilterException for a filter Users cannot answer."""
    find = find or finder(FINDERS, q, call.ws)
    with_groups = wants_attribute("groups", q.attributes, q.excluded)

    def unit(conn: Connection) -> Page:
        total, rows = find(conn)
        extra = store.groups_of(conn, call.ws, [r.id for r in rows]) if with_groups and rows else {}
        return page(q, total, [
            project(render(r, RESOURCE, call.base_url, {"groups": extra[r.id]} if extra.get(r.id) else None),
                    q.attributes, q.excluded)
            for r in rows
        ])  # fmt: skip

    return unit


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Names of the top-level attributes a write changed: what the audit trail records."""
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {"changed": keys} if keys else {}
