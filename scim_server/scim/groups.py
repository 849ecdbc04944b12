"""SCIM Groups without HTTP (RFC 7644 §3.3-3.6), as scim/users.py does Users.

Member changes go to member rows (see store/groups.py); a read with
``excludedAttributes=members`` never touches them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scim2_models import Context
from sqlalchemy import Connection

from scim_server.scim import filters
from scim_server.scim.changes import before_after, record
from scim_server.scim.context import ScimCall
from scim_server.scim.patch import apply_group_patch, normalize_patch
from scim_server.scim.projection import project, wants_attribute
from scim_server.scim.query import Finders, ListQuery, finder
from scim_server.scim.resources import group_fields_from_doc, member_refs, parse_group, render
from scim_server.scim.results import Finder, Found, Page, Unit, Written, page
from scim_server.store import groups as store
from scim_server.store.directory import StoredResource, check_version
from scim_server.store.groups import MemberChange, Moved

RESOURCE = "Group"
# RFC 7644 §3.5.2: a successful PATCH answers 200 with the whole resource, or 204 (No Content);
# 200 is required when the request names ``attributes``. Rendering every member of a large
# group on each member change costs more than the change (2000 members: ~2 ms), and Entra's
# and Okta's documented group PATCH exchanges answer 204, so 204 it is unless the caller
# asks for attributes (``attributes``/``excludedAttributes``).
PATCH_RETURNS_RESOURCE = False


def _render(call: ScimCall, conn: Connection, stored: StoredResource, q: ListQuery | None = None) -> dict[str, Any]:
    attrs, excl = (q.attributes, q.excluded) if q else (None, None)
    extra = None
    if wants_attribute("members", attrs, excl):
        entries = store.members_of(conn, [stored.id])[stored.id]
        extra = {"members": member_refs(entries, call.base_url)} if entries else None
    return project(render(stored, RESOURCE, call.base_url, extra), attrs, excl)


def create(call: ScimCall, body: Any) -> Unit[Written]:
    """POST /Groups: 201 with the group; an unknown member id is a 400 (nothing is written)."""
    fields, member_ids = parse_group(body)

    def unit(conn: Connection) -> Written:
        stored = store.create_group(conn, call.ws, fields, member_ids)
        record(conn, call, "scim.group.create", RESOURCE, stored.id,
               detail={"displayName": fields.display_name, "members_added": len(member_ids)},
               changes=before_after({}, fields.doc))  # fmt: skip
        doc = _render(call, conn, stored)
        return Written(201, doc, stored.version, doc["meta"]["location"])

    return unit


def get(call: ScimCall, group_id: str, q: ListQuery | None) -> Unit[Found]:
    """GET /Groups/{id}; NotFoundException (404)."""

    def unit(conn: Connection) -> Found:
        stored = store.get_group(conn, call.ws, group_id)
        return Found(_render(call, conn, stored, q), stored.version)

    return unit


def replace(call: ScimCall, group_id: str, body: Any, if_match: str | None) -> Unit[Written]:
    """PUT /Groups/{id}: the members are replaced too; 404, 412 on a stale ``If-Match``."""
    fields, member_ids = parse_group(body, Context.RESOURCE_REPLACEMENT_REQUEST)

    def unit(conn: Connection) -> Written:
        current = store.get_group(conn, call.ws, group_id)
        stored, moved = store.replace_group(conn, call.ws, group_id, fields, member_ids, if_match, current)
        record(conn, call, "scim.group.replace", RESOURCE, group_id,
               detail={"displayName": fields.display_name, "members": len(member_ids),
                       "members_added": len(moved.added), "members_removed": len(moved.removed)},
               changes=_replaced(current.doc, fields.doc, moved))  # fmt: skip
        return Written(200, _render(call, conn, stored), stored.version)

    return unit


def _members_moved(added: Sequence[str], removed: Sequence[str]) -> dict[str, Any]:
    """The trail's record of a member change: ids removed before, ids added after (PATCH, PUT)."""
    return {"before": {"removed": list(removed)}, "after": {"added": list(added)}}


def _replaced(before: dict[str, Any], after: dict[str, Any], moved: Moved) -> dict[str, Any] | None:
    """A PUT's before/after: the attributes it changed, and the member ids that moved (a PUT
    names every member; the trail keeps only the difference, as for a PATCH)."""
    changes = before_after(before, after) or {}
    if moved.added or moved.removed:
        changes["members"] = _members_moved(moved.added, moved.removed)
    return changes or None


def patch(call: ScimCall, group_id: str, body: Any, if_match: str | None, q: ListQuery | None) -> Unit[Written]:
    """PATCH /Groups/{id} (RFC 7644 §3.5.2): 204, or 200 with the group when ``q`` names
    attributes (see PATCH_RETURNS_RESOURCE)."""
    operations = normalize_patch(body)
    with_body = PATCH_RETURNS_RESOURCE or (q is not None and bool(q.attributes or q.excluded))

    def unit(conn: Connection) -> Written:
        current = store.get_group(conn, call.ws, group_id)
        result = apply_group_patch(current.doc, operations)
        fields = group_fields_from_doc(result.doc) if result.doc != current.doc else None
        change = MemberChange(
            add=tuple(result.add_members),
            remove=tuple(result.remove_members),
            replace=None if result.replace_members is None else tuple(result.replace_members),
            remove_all=result.remove_all_members,
        )
        attributes = before_after(current.doc, result.doc) or {}

        def audit(moved: Moved) -> None:
            """The event, before the bump (store.patch_group): the attributes changed and the
            member ids that moved, as for a PUT (a member replace: the difference)."""
            changes = dict(attributes)
            if moved.added or moved.removed:  # each request's own, bounded (a replace: by its list)
                changes["members"] = _members_moved(moved.added, moved.removed)
            record(conn, call, "scim.group.patch", RESOURCE, group_id,
                   detail={"members_added": len(moved.added), "members_removed": len(moved.removed),
                           "members_replaced": change.replace is not None or change.remove_all,
                           "attributes_changed": fields is not None}, changes=changes or None)  # fmt: skip

        stored = store.patch_group(conn, call.ws, group_id, fields, change, if_match, current, audit)
        if not with_body:
            return Written(204, None, stored.version)
        return Written(200, _render(call, conn, stored, q), stored.version)

    return unit


def delete(call: ScimCall, group_id: str, if_match: str | None) -> Unit[Written]:
    """DELETE /Groups/{id}: 204. Of concurrent deletes exactly one succeeds and is audited;
    the others are 404 (store.delete_group)."""

    def unit(conn: Connection) -> Written:
        current = store.get_group(conn, call.ws, group_id)
        check_version(current.version, if_match)
        store.delete_group(conn, call.ws, group_id, current)
        record(conn, call, "scim.group.delete", RESOURCE, group_id,
               detail={"displayName": current.doc.get("displayName")}, changes=before_after(current.doc, {}))  # fmt: skip
        return Written(204, None, None)

    return unit


FINDERS = Finders(store.EQ_ATTRIBUTES, store.find_groups_eq, filters.group_where, filters.group_order_by,
                  store.list_groups, store.count_groups)  # fmt: skip


def search(call: ScimCall, q: ListQuery, find: Finder | None = None) -> Unit[Page]:
    """GET /Groups, POST /Groups/.search; ``find`` as for ``users.search``."""
    find = find or finder(FINDERS, q, call.ws)
    with_members = wants_attribute("members", q.attributes, q.excluded)

    def unit(conn: Connection) -> Page:
        total, rows = find(conn)
        entries = store.members_of(conn, [r.id for r in rows]) if with_members and rows else {}
        return page(q, total, [
            project(render(r, RESOURCE, call.base_url,
                           {"members": member_refs(entries[r.id], call.base_url)} if entries.get(r.id) else None),
                    q.attributes, q.excluded)
            for r in rows
        ])  # fmt: skip

    return unit
