"""An audit event as read back, its canonical encoding (what its hash covers) and its API view.

Exports and verification read rows in chunks ordered by ``seq`` (keyset; ``seq`` is unique in a
workspace), so a trail of any length holds one chunk in memory. They read ``ROW``'s columns as
the DBAPI's plain tuples (``row_chunks``) and format the time with ``time_text``: building an
``Event`` through SQLAlchemy's row processing (a datetime parsed, made aware and formatted back
per row) took half of an export's time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Select, Text, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from scim_server.store.db import iso_utc
from scim_server.store.fastsql import ts_out
from scim_server.store.models import AuditEvent

audit_events = AuditEvent.__table__
c = audit_events.c

GENESIS = "0" * 64  # the prev_hash of a workspace's first event
ENCODING = "scim-bridge-audit/1"  # first element of every canonical encoding: a new one gets a new name
CHUNK = 5000

COLUMNS = (c.id, c.workspace_id, c.seq, c.at, c.actor, c.action, c.target_type, c.target_id, c.target_display,
           c.app_id, c.outcome, c.changes, c.detail, c.prev_hash, c.hash)  # fmt: skip


class utc_text(FunctionElement[str]):
    """A timestamp as UTC text in SQLite's storage format, ``YYYY-MM-DD HH:MM:SS.ffffff``: on
    SQLite the stored text itself, on PostgreSQL ``to_char`` of it in UTC, so that
    ``time_text`` formats both with string operations (a datetime per row, made, converted to
    UTC and formatted, cost 3 µs)."""

    type = Text()
    inherit_cache = True
    name = "utc_text"


@compiles(utc_text)
def _utc_text_default(element: utc_text, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(utc_text, "postgresql")
def _utc_text_postgresql(element: utc_text, compiler: Any, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"


# What exports and verification read: ``seq`` first (the keyset), then the CSV columns' order.
ROW = (c.seq, utc_text(c.at).label("at"), c.actor, c.action, c.target_type, c.target_id, c.target_display,
       c.app_id, c.outcome, c.changes, c.detail, c.prev_hash, c.hash)  # fmt: skip
Row = tuple[Any, ...]  # a ``ROW`` as the DBAPI returns it (``at`` as ``utc_text``)
ReadRows = Callable[[Callable[[Connection], list[Row]]], list[Row]]


def time_text(stored: Any) -> str:
    """``iso_utc(ts_out(stored))``, the text an event's hash covers for its ``at``, without the
    datetime round trip for SQLite's storage format (``YYYY-MM-DD HH:MM:SS.ffffff``, as
    ``fastsql.ts_in`` and SQLAlchemy write it): a third of the sealing CPU went there."""
    if isinstance(stored, str) and len(stored) == 26 and stored[10] == " " and stored[19] == ".":
        whole, fraction = stored[:10] + "T" + stored[11:19], stored[20:]
        if fraction.isdigit():
            return f"{whole}Z" if fraction == "000000" else f"{whole}.{fraction}Z"
    return iso_utc(ts_out(stored)) or ""


_STORED_SHAPE = b"9999-99-99 99:99:99.999999\n"  # the storage format with every digit a 9
_NINES = bytes.maketrans(b"0123456789", b"9" * 10)


def time_texts(values: Sequence[Any]) -> list[str]:
    """``[time_text(v) for v in values]``, done on the column joined when every value is in the
    storage format (the usual case: its digits made 9s and the result compared with the
    format's shape, and four replaces, instead of a call a row; a regex took twice as long)."""
    try:
        joined = "\n".join(values)
        shape = joined.encode("ascii").translate(_NINES)
    except (TypeError, UnicodeEncodeError):  # a datetime or None; or not the storage format
        return [time_text(v) for v in values]
    if not values or shape != (_STORED_SHAPE * len(values))[:-1]:
        return [time_text(v) for v in values]
    joined = joined.replace(" ", "T").replace(".000000\n", "\n")  # a whole second shows no fraction
    joined = joined.removesuffix(".000000")
    return (joined.replace("\n", "Z\n") + "Z").split("\n")


def canonical(workspace_id: int, seq: int, time: str, fields: Sequence[Any], prev_hash: str) -> bytes:
    """The bytes an event's ``hash`` is the SHA-256 of: the contract every verifier reimplements.
    ``fields`` are actor, action, target_type, target_id, target_display, app_id, outcome,
    changes (the stored JSON text), detail (likewise), in that order (``ROW[2:11]``)."""
    return orjson.dumps([ENCODING, workspace_id, seq, time, *fields, prev_hash])


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    workspace_id: int
    seq: int | None
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str | None
    target_display: str | None
    app_id: str | None
    outcome: str
    changes: str | None  # JSON text exactly as stored: the hash covers these bytes
    detail: str | None
    prev_hash: str | None
    hash: str | None
    time: str  # ``at`` as ISO 8601 UTC text: what the hash covers and every format shows

    @classmethod
    def from_row(cls, row: Any) -> Event:
        values = list(row)
        values[3] = at = ts_out(values[3])
        return cls(*values, time=iso_utc(at) or "")  # type: ignore[misc]

    def canonical(self, seq: int, prev_hash: str) -> bytes:
        """The bytes ``hash`` is the SHA-256 of, for this event at ``seq`` after ``prev_hash``."""
        return canonical(self.workspace_id, seq, self.time, (self.actor, self.action, self.target_type,
                         self.target_id, self.target_display, self.app_id, self.outcome, self.changes, self.detail),
                         prev_hash)  # fmt: skip

    def compute_hash(self, seq: int, prev_hash: str) -> str:
        return hashlib.sha256(self.canonical(seq, prev_hash)).hexdigest()

    def view(self) -> dict[str, Any]:
        """The event as the API, the JSONL export and the console show it."""
        return {
            "seq": self.seq, "time": self.time, "actor": self.actor, "action": self.action,
            "target": {"type": self.target_type, "id": self.target_id, "display": self.target_display},
            "app_id": self.app_id, "outcome": self.outcome,
            "changes": orjson.loads(self.changes) if self.changes else None,
            "detail": orjson.loads(self.detail) if self.detail else None,
            "prev_hash": self.prev_hash, "hash": self.hash,
        }  # fmt: skip


def sealed(workspace_id: int) -> Select[Any]:
    return select(*COLUMNS).where(c.workspace_id == workspace_id, c.seq.is_not(None))


def rows_after(conn: Connection, query: Select[Any], after: int | None, limit: int = CHUNK) -> list[Row]:
    """Up to ``limit`` rows (``ROW``'s columns) of ``query`` with ``seq`` above ``after``, in
    ``seq`` order, as plain tuples from the DBAPI cursor: SQLAlchemy still binds the filters
    (a ``since`` datetime becomes SQLite's stored text), but no longer processes each row."""
    chunk = select(*ROW)
    if after is not None:
        # the keyset first: of two lower bounds on ``seq`` (this and a ``since_seq`` filter),
        # SQLite seeks the index with the first one written and only filters by the other
        # (written after, each chunk walked the trail from that filter's start: O(n²))
        chunk = chunk.where(c.seq > after)
    if query.whereclause is not None:
        chunk = chunk.where(query.whereclause)
    result = conn.execute(chunk.order_by(c.seq).limit(limit))
    try:
        rows = cast(list[Row], result.cursor.fetchall())  # sqlite3 and psycopg both return a list
    finally:
        result.close()
    return rows


def row_chunks(read: ReadRows, query: Select[Any], limit: int = CHUNK,
               after: int | None = None) -> Iterator[list[Row]]:  # fmt: skip
    """Every row of ``query`` (a sealed, one-workspace query on ``audit_events``) with ``seq``
    above ``after``, in ``seq`` order, a chunk of at most ``limit`` at a time (each chunk its own
    ``read``, so memory stays flat); ``read(fn)`` runs ``fn(conn)`` (``Database.read_sync``)."""
    while True:
        rows = read(partial(rows_after, query=query, after=after, limit=limit))
        if rows:
            yield rows
        if len(rows) < limit:
            return
        after = rows[-1][0]
