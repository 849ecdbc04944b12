"""Paging cursors: one codec for every list the server pages (the admin API's ``?cursor=`` and
SCIM's RFC 9865 ``cursor``).

A cursor is a position in one list: the list's scope (``"apps"``, ``"jobs"``, ``"scim"`` ...) and
a tuple of typed values, the sort key of the last item sent (keyset paging) or an offset. On the
wire it is opaque: base64url, unpadded, of the JSON array ``[scope, value, ...]``. A datetime
travels as ISO 8601 UTC text and comes back as an aware UTC datetime, so a database compares it as
a timestamp (a string would be compared as text on SQLite, and refused by PostgreSQL).

``decode`` refuses with ``InvalidCursor`` anything ``encode`` would not have produced for that
scope and shape: bad base64 or JSON, another list's cursor, the wrong number or types of values,
an integer outside ``[0, MAX_INT]``, a datetime without a time zone, a string with a NUL or
longer than ``MAX_TEXT``. Each face maps ``InvalidCursor`` to its own error in
``scim_server/errors.py`` (SCIM: 400 ``invalidCursor``; admin: 400 ``invalid_cursor``).

Cursors are not signed. A client can forge a position, but only a well-typed one in range for
that list's own sort key: the same rows it could reach by paging, under the filters of the
request that carries it.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import cast

import orjson

__all__ = ["MAX_INT", "MAX_TEXT", "InvalidCursor", "Value", "decode", "decode_created_id", "decode_id",
           "decode_offset", "encode"]  # fmt: skip

Value = datetime | int | str
Kind = type[datetime] | type[int] | type[str]

MAX_INT = 2**31 - 1  # the largest offset either database is ever asked to skip
MAX_TEXT = 1000  # longer than any key a list sorts on (ids are 36 characters, asset ids up to 200)
_MAX_CURSOR = 11_000  # longer than any cursor of a datetime and such a text (6 bytes a character at worst)


class InvalidCursor(Exception):
    """The cursor is not one this server issued for this list."""

    def __init__(self, detail: str = "The cursor is not one this server issued for this list.") -> None:
        super().__init__(detail)
        self.detail = detail


def _wire(value: Value) -> int | str:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite hands back naive UTC
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def encode(scope: str, *position: Value) -> str:
    """The cursor for ``position`` in the list ``scope``; ``decode`` with the same scope and the
    position's types gives the position back (datetimes as aware UTC)."""
    return base64.urlsafe_b64encode(orjson.dumps([scope, *map(_wire, position)])).decode().rstrip("=")


def _value(raw: object, kind: Kind) -> Value:
    if kind is int and type(raw) is int and 0 <= raw <= MAX_INT:
        return raw
    if isinstance(raw, str) and len(raw) <= MAX_TEXT and "\x00" not in raw:
        if kind is str:
            return raw
        if kind is datetime:
            try:
                at = datetime.fromisoformat(raw)
            except ValueError:
                raise InvalidCursor() from None
            if at.tzinfo is not None:
                return at.astimezone(UTC)
    raise InvalidCursor()


def decode(scope: str, cursor: str, *shape: Kind) -> tuple[Value, ...]:
    """The position ``cursor`` holds, one value per kind in ``shape``.

    :raises InvalidCursor: the cursor is not one ``encode(scope, ...)`` made with that shape.
    """
    if len(cursor) > _MAX_CURSOR:
        raise InvalidCursor()
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        parts = orjson.loads(raw)
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidCursor() from None
    if not isinstance(parts, list) or len(parts) != len(shape) + 1 or parts[0] != scope:
        raise InvalidCursor()
    return tuple(_value(raw, kind) for raw, kind in zip(parts[1:], shape, strict=True))


def decode_offset(scope: str, cursor: str) -> int:
    """An offset cursor: how many items of the list came before."""
    return cast(int, decode(scope, cursor, int)[0])


def decode_id(scope: str, cursor: str) -> str:
    """A keyset cursor on one text key: the key of the last item sent."""
    return cast(str, decode(scope, cursor, str)[0])


def decode_created_id(scope: str, cursor: str) -> tuple[datetime, str]:
    """A keyset cursor on (created, id): the last item sent, ties on ``created`` broken by id."""
    created, key = decode(scope, cursor, datetime, str)
    return cast(datetime, created), cast(str, key)
