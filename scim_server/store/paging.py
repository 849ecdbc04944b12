"""Keyset paging: the rows after a position in a list ordered on a unique key.

A list pages on a key that orders every row once, e.g. (created, id): ``created`` alone would let
rows that share a timestamp fall between two pages, or repeat on both. The position is the key of
the last row sent (``scim_server.cursor`` carries it between requests, datetimes as aware UTC so
that both databases compare them as timestamps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_

T = TypeVar("T", bound=tuple[Any, ...])


def after(key: Sequence[ColumnElement[Any]], position: Sequence[Any], *, descending: bool = False) -> ColumnElement[bool]:
    """Rows strictly after ``position`` in the order ``key`` (ascending, or ``descending`` on every
    column): ``k1 > p1 OR (k1 = p1 AND k2 > p2) OR ...``, a form both databases use indexes for."""
    if len(key) != len(position) or not key:
        raise ValueError("a position has one value per key column")
    terms = []
    for i, (column, value) in enumerate(zip(key, position, strict=True)):
        beyond = column < value if descending else column > value
        terms.append(and_(*(c == v for c, v in zip(key[:i], position[:i], strict=True)), beyond))
    return or_(*terms)


def window(query: Select[T], key: Sequence[ColumnElement[Any]], position: Sequence[Any] | None, limit: int,
           *, descending: bool = False) -> Select[T]:  # fmt: skip
    """``query`` ordered on ``key``, from strictly after ``position`` (None: from the first row),
    at most ``limit`` rows."""
    if position is not None:
        query = query.where(after(key, position, descending=descending))
    return query.order_by(*(c.desc() if descending else c for c in key)).limit(limit)
