"""List and search parameters (RFC 7644 §3.4.2, §3.4.3) and RFC 9865 cursors."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from scim2_models import InvalidValueException
from sqlalchemy import Connection

from scim_server import cursor
from scim_server.scim.filter_limits import CEILING, DEFAULT_FILTER_LIMITS, FilterLimits, check_filter
from scim_server.scim.projection import split_param


@dataclass(frozen=True, slots=True)
class ListQuery:
    filter: str | None
    sort_by: str | None
    sort_order: str | None
    start_index: int  # 1-based
    count: int
    cursor: str | None  # None: index paging; "" or a token: cursor paging (RFC 9865)
    attributes: list[str] | None
    excluded: list[str] | None

    @property
    def offset(self) -> int:
        return decode_cursor(self.cursor) if self.cursor else self.start_index - 1


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidValueException(detail=f"{name} must be an integer.")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidValueException(detail=f"{name} must be an integer.") from None
    if abs(number) >= 2**31:  # beyond any index a database can seek to (SQLite raises OverflowError)
        raise InvalidValueException(detail=f"{name} is out of range.")
    return number


def _names(value: Any, name: str) -> list[str] | None:
    """Attribute names: a comma-separated string, or (in a SearchRequest) a list of strings.
    Anything else is refused rather than ignored, so a client never believes a projection
    applied that was not."""
    if value is None or isinstance(value, str):
        return split_param(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v.strip()] or None
    raise InvalidValueException(detail=f"{name} must be a string or a list of strings.")


_PARAMETERS = ("filter", "sortBy", "sortOrder", "startIndex", "count", "cursor", "attributes", "excludedAttributes")
_CANONICAL = {name.lower(): name for name in _PARAMETERS}


def _canonical_names(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """The parameters under the names RFC 7644 §3.4.2 and §3.4.3 spell; a SearchRequest's
    attribute names are case-insensitive (RFC 7643 §2.1: ``Filter``, ``StartIndex``)."""
    if all(key in _PARAMETERS or str(key).lower() not in _CANONICAL for key in params):
        return params
    return {_CANONICAL.get(str(key).lower(), key): params[key] for key in params}


def parse_list_query(
    params: Mapping[str, Any], default_count: int, max_count: int,
    filter_limits: FilterLimits = DEFAULT_FILTER_LIMITS,
) -> ListQuery:
    """From query parameters or a ``.search`` body (same names; body may use lists).

    A filter over ``filter_limits`` (``FilterLimits.from_settings``) is refused here, by a scan
    that costs far less than parsing it (``filter_limits.check_filter``).

    :raises InvalidValueException: a parameter of the wrong type or out of range.
    :raises InvalidFilterException: a filter over ``filter_limits``.
    """
    params = _canonical_names(params)
    start = _int(params.get("startIndex"), "startIndex")
    count = _int(params.get("count"), "count")
    sort_order = params.get("sortOrder")
    if sort_order is not None and str(sort_order).lower() not in ("ascending", "descending"):
        raise InvalidValueException(detail="sortOrder must be 'ascending' or 'descending'.")
    flt = params.get("filter")
    if flt is not None and not isinstance(flt, str):
        raise InvalidValueException(detail="filter must be a string.")
    if flt and flt.strip():
        check_filter(flt, filter_limits)
    sort_by = params.get("sortBy")
    if sort_by is not None and not isinstance(sort_by, str):
        raise InvalidValueException(detail="sortBy must be a string.")
    cursor = params.get("cursor")
    return ListQuery(
        filter=flt if flt and flt.strip() else None,
        sort_by=sort_by or None,
        sort_order=str(sort_order).lower() if sort_order else None,
        start_index=max(1, start if start is not None else 1),
        count=min(max(0, count if count is not None else default_count), max_count),
        cursor=None if cursor is None else str(cursor),
        attributes=_names(params.get("attributes"), "attributes"),
        excluded=_names(params.get("excludedAttributes"), "excludedAttributes"),
    )


@lru_cache(maxsize=16)
def default_list_query(default_count: int, max_count: int) -> ListQuery:
    """The query of a request without a query string (immutable, so shared)."""
    return parse_list_query({}, default_count, max_count)


# ``attr eq "string"`` as the IdPs send it before every create (RFC 7644 §3.4.2.2). Only
# strings without escapes: their value is the text between the quotes, exactly what
# scim2-models' grammar (JSON string rules, whitespace ignored) makes of them. Anything
# else goes through the full parser (scim/filters.py).
_SPACE = r"[ \t\f\r\n]"
_SIMPLE_EQ = re.compile(
    rf'{_SPACE}*([A-Za-z][A-Za-z0-9_-]*){_SPACE}+[eE][qQ]{_SPACE}+"([^"\\\x00-\x1f]*)"{_SPACE}*'
)
_MAX_SIMPLE_FILTER = CEILING.max_length  # longer filters are refused before any parsing


def simple_eq(text: str | None) -> tuple[str, str] | None:
    """(lower-cased attribute name, value) of a filter ``name eq "value"``; None for any
    other filter. The caller decides whether it can serve that attribute from a column."""
    if text is None or len(text) > _MAX_SIMPLE_FILTER:
        return None
    found = _SIMPLE_EQ.fullmatch(text)
    return None if found is None else (found.group(1).lower(), found.group(2))


SCOPE = "scim"  # the scope of RFC 9865 cursors in scim_server.cursor


def encode_cursor(offset: int) -> str:
    """The RFC 9865 cursor of the page that starts after ``offset`` resources."""
    return cursor.encode(SCOPE, offset)


def decode_cursor(value: str) -> int:
    """The offset an RFC 9865 cursor stands for.

    :raises scim_server.cursor.InvalidCursor: not a cursor this server issued (400 invalidCursor).
    """
    return cursor.decode_offset(SCOPE, value)


@dataclass(frozen=True, slots=True)
class Finders:
    """How one resource type is searched: a precompiled lookup for ``attr eq "value"`` on the
    columns in ``eq_attributes``, otherwise the general filter/sort translation."""

    eq_attributes: frozenset[str] | set[str] | tuple[str, ...]
    find_eq: Callable[..., tuple[int, list[Any]]]
    where: Callable[[str, int], Any]
    order_by: Callable[[str | None, str | None], Any]
    list_rows: Callable[..., list[Any]]
    count_rows: Callable[..., int]


def finder(finders: Finders, q: ListQuery, ws: int) -> Callable[[Connection], tuple[int, list[Any]]]:
    """The unit of work that answers ``q``: (total, rows of this page)."""
    eq = simple_eq(q.filter) if q.filter and q.sort_by is None else None
    if eq is not None and eq[0] in finders.eq_attributes:
        attribute, value = eq
        return lambda conn: finders.find_eq(conn, ws, attribute, value, q.offset, q.count)
    where = finders.where(q.filter, ws) if q.filter else None
    order = finders.order_by(q.sort_by, q.sort_order) if q.sort_by else None

    def query(conn: Connection) -> tuple[int, list[Any]]:
        rows = finders.list_rows(conn, ws, where, order, q.offset, q.count) if q.count else []
        if q.offset == 0 and len(rows) < q.count:  # the whole result is on this page
            return len(rows), rows
        return finders.count_rows(conn, ws, where), rows

    return query


INLINE_FILTER_LENGTH = 256
"""Filters up to this long are planned on the event loop: what IdPs send (``userName eq "..."``)
costs less to parse than a hop to a thread. Longer ones go to the filter thread."""


@cache
def _filter_thread() -> ThreadPoolExecutor:
    """One thread for every long filter of the process: they queue behind each other rather than
    take turns with the event loop for the interpreter lock sixteen at a time."""
    return ThreadPoolExecutor(1, thread_name_prefix="scim-filter")


async def finder_off_loop(
    finders: Finders, q: ListQuery, ws: int
) -> Callable[[Connection], tuple[int, list[Any]]]:
    """:func:`finder` for a caller on the event loop: a filter longer than
    :data:`INLINE_FILTER_LENGTH` is parsed and translated to SQL on the filter thread, so other
    requests go on being served meanwhile. Same unit of work, same exceptions as ``finder``.

    The filter must already be within its limits (``parse_list_query`` checks them).
    """
    if q.filter is None or len(q.filter) <= INLINE_FILTER_LENGTH:
        return finder(finders, q, ws)
    return await asyncio.get_running_loop().run_in_executor(_filter_thread(), finder, finders, q, ws)
