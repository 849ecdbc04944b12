"""What the SCIM operations (scim/users.py, scim/groups.py) give back: plain values the
HTTP routes and Bulk render, and the shape of a unit of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection

from scim_server.scim.query import ListQuery, encode_cursor
from scim_server.scim.resources import etag

T = TypeVar("T")

Unit = Callable[[Connection], T]
"""A unit of work: run inside one transaction (``Database.write``/``read``, or one of a
Bulk request's savepoints). A write unit has no effect outside the connection it is given,
so it may run twice (``Database.write``'s contract)."""


Finder = Callable[[Connection], tuple[int, list[Any]]]
"""What ``query.finder`` plans: a read giving a search's total and the rows of its page."""


@dataclass(frozen=True, slots=True)
class Written:
    """The outcome of a write (RFC 7644 §3.3, §3.5, §3.6).

    ``document`` is None when the answer has no body (204); ``version`` is None after a
    delete; ``location`` is the new resource's URL after a create (201), else None."""

    status: int
    document: dict[str, Any] | None
    version: int | None
    location: str | None = None

    @property
    def etag(self) -> str | None:
        return None if self.version is None else etag(self.version)


@dataclass(frozen=True, slots=True)
class Found:
    """One resource as a GET returns it (RFC 7644 §3.4.1), and its version for the ETag."""

    document: dict[str, Any]
    version: int

    @property
    def etag(self) -> str:
        return etag(self.version)


@dataclass(frozen=True, slots=True)
class Page:
    """A ListResponse's content (RFC 7644 §3.4.2): ``start_index`` with index paging,
    ``next_cursor`` (or None on the last page) with cursor paging (RFC 9865)."""

    total: int
    resources: list[dict[str, Any]]
    start_index: int | None
    next_cursor: str | None = None


def page(q: ListQuery, total: int, resources: list[dict[str, Any]]) -> Page:
    """The page ``q`` asked for: index paging, or cursor paging with the next cursor."""
    if q.cursor is None:
        return Page(total, resources, q.start_index)
    following = q.offset + len(resources)
    return Page(total, resources, None, encode_cursor(following) if following < total else None)
