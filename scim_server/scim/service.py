"""The SCIM protocol without HTTP: what the routes (scim/routes.py) and Bulk (scim/bulk.py)
call.

Every operation takes the caller (``ScimCall``: workspace, principal, base URL) and input
already read from the request (a JSON body, an ``If-Match`` value, a ``ListQuery``). It
validates that input at once, raising scim2_models exceptions (or a pydantic
ValidationError), and returns its unit of work. Callers decide how units run: the routes
run each in its own transaction (``ScimCall.write``, ``Database.read``), Bulk runs many in
one transaction (scim/bulk.py). A unit's result is a plain value (``Written``, ``Found``, ``Page``)
that the caller renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from scim2_models import InvalidFilterException, InvalidValueException
from sqlalchemy import Connection

from scim_server.scim import groups, users
from scim_server.scim.context import ScimCall
from scim_server.scim.query import Finders, ListQuery, finder_off_loop
from scim_server.scim.results import Finder, Found, Page, Unit, Written

__all__ = ["GROUPS", "RESOURCE_TYPES", "USERS", "ResourceType", "search", "search_all"]


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One resource type's operations (RFC 7644 §3.3-3.6); ``endpoint`` is its path."""

    endpoint: str
    finders: Finders
    create: Callable[[ScimCall, Any], Unit[Written]]
    get: Callable[[ScimCall, str, ListQuery | None], Unit[Found]]
    replace: Callable[[ScimCall, str, Any, str | None], Unit[Written]]
    patch: Callable[[ScimCall, str, Any, str | None, ListQuery | None], Unit[Written]]
    delete: Callable[[ScimCall, str, str | None], Unit[Written]]
    search: Callable[[ScimCall, ListQuery, Finder | None], Unit[Page]]


USERS = ResourceType("Users", users.FINDERS, users.create, users.get, users.replace, users.patch, users.delete,
                     users.search)  # fmt: skip
GROUPS = ResourceType("Groups", groups.FINDERS, groups.create, groups.get, groups.replace, groups.patch,
                      groups.delete, groups.search)  # fmt: skip
RESOURCE_TYPES = {kind.endpoint: kind for kind in (USERS, GROUPS)}


async def search(call: ScimCall, kind: ResourceType, q: ListQuery) -> Unit[Page]:
    """GET /{endpoint}, POST /{endpoint}/.search (RFC 7644 §3.4.2-3.4.3). A long filter is
    parsed and translated off the event loop (``query.finder_off_loop``); InvalidFilterException
    for a filter ``kind`` cannot answer."""
    return kind.search(call, q, await finder_off_loop(kind.finders, q, call.ws))


async def search_all(call: ScimCall, q: ListQuery) -> Unit[Page]:
    """``POST /.search`` (RFC 7644 §3.4.3): every resource type the filter applies to, Users
    then Groups, paged as one list, in one snapshot. InvalidFilterException when the filter
    applies to no type; cursor paging is per type only (InvalidValueException)."""
    if q.cursor is not None:
        raise InvalidValueException(detail="Cursor paging is offered per resource type, not at the root.")
    counters = [(kind, counter) for kind in (USERS, GROUPS) if (counter := await _counter(call, kind, q))]
    if not counters:
        raise InvalidFilterException(detail="The filter applies to no resource type.")
    start, end = q.start_index - 1, q.start_index - 1 + q.count

    def unit(conn: Connection) -> Page:
        found: list[dict[str, Any]] = []
        total = 0
        for kind, counter in counters:
            size = counter(conn).total
            first, last = max(start - total, 0), min(end - total, size)  # this type's part of the page
            if last > first:  # planned again, from the filter caches _counter filled
                found += kind.search(call, _window(q, first, last - first), None)(conn).resources
            total += size
        return Page(total, found, q.start_index)

    return unit


def _window(q: ListQuery, offset: int, count: int) -> ListQuery:
    """``q`` for the resources [offset, offset+count) of one type, and its total."""
    return replace(q, start_index=offset + 1, count=count, cursor=None)


async def _counter(call: ScimCall, kind: ResourceType, q: ListQuery) -> Unit[Page] | None:
    """``kind``'s total for ``q``; None when the filter does not apply to ``kind`` (it names an
    attribute the type does not have)."""
    try:
        return await search(call, kind, _window(q, 0, 0))
    except InvalidFilterException:
        return None
