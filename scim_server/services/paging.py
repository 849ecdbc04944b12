"""One page of a list, the same for every face: up to ``limit`` items and the cursor of the next
page (``scim_server.cursor``, one codec for every list), or None on the last page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from scim_server import cursor
from scim_server.cursor import Value
from scim_server.services.errors import Invalid

RowT = TypeVar("RowT")
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page: the raw cursor of the previous page (None: the first) and the page size."""

    cursor: str | None = None
    limit: int = 50

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise Invalid(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")

    def after_created_id(self, scope: str) -> tuple[Any, str] | None:
        return cursor.decode_created_id(scope, self.cursor) if self.cursor else None

    def after_id(self, scope: str) -> str | None:
        return cursor.decode_id(scope, self.cursor) if self.cursor else None

    @property
    def fetch(self) -> int:
        """Rows to read: one more than shown, the extra saying there is a next page."""
        return self.limit + 1


def page_of(
    rows: Sequence[RowT], limit: int, scope: str, key: Callable[[RowT], tuple[Value, ...]],
    view: Callable[[RowT], dict[str, Any]],
) -> dict[str, Any]:
    """``rows`` holds up to limit+1 rows in the list's order; ``next_cursor`` then holds the ``key``
    of the last row shown."""
    shown = rows[:limit]
    more = len(rows) > limit and bool(shown)
    return {"items": [view(r) for r in shown], "next_cursor": cursor.encode(scope, *key(shown[-1])) if more else None}
