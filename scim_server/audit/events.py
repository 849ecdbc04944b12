"""An audit event as read back, its canonical encoding (what its hash covers) and its API view.

Rows are read in chunks ordered by ``(seq, id)`` (keyset), so verifying or exporting a trail of
any length holds one chunk in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Connection, Select, select, tuple_

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
        return orjson.dumps([ENCODING, self.workspace_id, seq, self.time, self.actor, self.action, self.target_type,
                             self.target_id, self.target_display, self.app_id, self.outcome, self.changes,
                             self.detail, prev_hash])  # fmt: skip

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


def chunk_after(conn: Connection, query: Select[Any], position: tuple[int, int] | None,
                limit: int = CHUNK) -> list[Event]:  # fmt: skip
    """Up to ``limit`` events of ``query`` after ``position`` = (seq, id), in (seq, id) order."""
    if position is not None:
        # a row value: both databases seek the (workspace_id, seq) index with it (an OR of the
        # two terms made SQLite scan from the start for every chunk)
        query = query.where(tuple_(c.seq, c.id) > tuple_(position[0], position[1]))
    return [Event.from_row(r) for r in conn.execute(query.order_by(c.seq, c.id).limit(limit)).all()]


def iterate(read: Any, query: Select[Any], limit: int = CHUNK) -> Iterator[Event]:
    """Every event of ``query`` in (seq, id) order, one chunk in memory at a time; ``read(fn)``
    runs ``fn(conn)`` (e.g. ``Database.read_sync``)."""
    position: tuple[int, int] | None = None
    while True:
        rows: list[Event] = read(partial(chunk_after, query=query, position=position, limit=limit))
        yield from rows
        if len(rows) < limit:
            return
        position = (rows[-1].seq or 0, rows[-1].id)
