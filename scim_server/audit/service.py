"""Audit operations, once, for the routes, the CLI and the console: read the trail (filtered,
paged), verify it, checkpoint it; and the background loop that seals and checkpoints.

Reading the trail is itself an event (``audit.read``, ``audit.verify``, ``audit.export``),
recorded before the answer is sent, in its own transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Select, insert, select, update

from scim_server import cursor
from scim_server.audit import access, chain, history
from scim_server.audit.events import COLUMNS, Event, audit_events
from scim_server.audit.export import FORMATS, MEDIA_TYPES, Exporter
from scim_server.audit.keys import Signer, load_or_create
from scim_server.audit.log import OUTCOMES, append
from scim_server.audit.sealer import Sealer
from scim_server.settings import Settings
from scim_server.store.db import Database, iso_utc, new_id, now
from scim_server.store.models import AuditExport, Workspace

log = logging.getLogger("scim_bridge.audit")
T = TypeVar("T")
c = audit_events.c
SCOPE = "audit"  # the cursor scope of GET /audit
exports = AuditExport.__table__


class BadQuery(ValueError):
    """A filter the caller sent is malformed (400)."""


@lru_cache(maxsize=8)
def _signer(key: str | None, path: Path) -> Signer:
    return Signer(key.encode()) if key else Signer(load_or_create(path))


def signer_for(settings: Settings) -> Signer:
    """The process's signer for ``settings`` (loaded or generated once)."""
    return _signer(settings.audit_signing_key, settings.audit_signing_key_file.resolve())


async def run_thread(db: Database, fn: Callable[[Connection], T]) -> T:
    """A long read (verify, export chunk) off the event loop, on a pooled connection."""
    return await anyio.to_thread.run_sync(db.read_sync, fn)


def parse_time(name: str, raw: str | None) -> datetime | None:
    """An ISO 8601 date-time with a zone from a query parameter (``+`` may arrive as a space)."""
    if not raw:
        return None
    if len(raw) > 64:
        raise BadQuery(f"{name} must be an ISO 8601 date-time.")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise BadQuery(f"{name} must be an ISO 8601 date-time.") from None
    if value.tzinfo is None:
        raise BadQuery(f"{name} must carry a time zone (e.g. Z).")
    return value


@dataclass(frozen=True, slots=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    action: str | None = None  # exact, or a prefix ending in "*" (``app.member.*``)
    target: str | None = None  # a target id, or "Type/id", or "Type/"
    app_id: str | None = None
    outcome: str | None = None
    since_seq: int | None = None
    until_seq: int | None = None

    @classmethod
    def parse(cls, params: Any) -> Filters:
        def when(name: str) -> datetime | None:
            return parse_time(name, params.get(name))

        def number(name: str) -> int | None:
            raw = params.get(name)
            if raw in (None, ""):
                return None
            if not raw.isdigit() or int(raw) > cursor.MAX_INT:
                raise BadQuery(f"{name} must be a non-negative integer.")
            return int(raw)

        def text(name: str, limit: int = 200) -> str | None:
            raw = params.get(name)
            if raw is not None and (len(raw) > limit or "\x00" in raw):
                raise BadQuery(f"{name} is too long.")
            return raw or None

        outcome = text("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise BadQuery(f"outcome must be one of {', '.join(OUTCOMES)}.")
        return cls(when("since"), when("until"), text("actor"), text("action"), text("target"), text("app_id"),
                   outcome, number("since_seq"), number("until_seq"))  # fmt: skip

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.since is not None:
            query = query.where(c.at >= self.since)
        if self.until is not None:
            query = query.where(c.at < self.until)
        if self.actor is not None:
            query = query.where(c.actor == self.actor)
        if self.action is not None:
            if self.action.endswith("*"):
                prefix = self.action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                query = query.where(c.action.like(prefix + "%", escape="\\"))
            else:
                query = query.where(c.action == self.action)
        if self.target is not None:
            kind, slash, ident = self.target.partition("/")
            if slash:
                query = query.where(c.target_type == kind)
                if ident:
                    query = query.where(c.target_id == ident)
            else:
                query = query.where(c.target_id == self.target)
        if self.app_id is not None:
            query = query.where(c.app_id == self.app_id)
        if self.outcome is not None:
            query = query.where(c.outcome == self.outcome)
        if self.since_seq is not None:
            query = query.where(c.seq >= self.since_seq)
        if self.until_seq is not None:
            query = query.where(c.seq <= self.until_seq)
        return query

    def view(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v)
                for k in self.__slots__ if (v := getattr(self, k)) is not None}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ExportStream:
    """A started export: stream ``body()``; its manifest is signed and stored after the last byte."""

    export_id: str
    media_type: str
    headers: dict[str, str]
    body: Callable[[], AsyncIterator[bytes]]


async def export(db: Database, settings: Settings, workspace_id: int, actor: str, fmt: str,
                 filters: Filters) -> ExportStream:  # fmt: skip
    """Start an export of the sealed trail up to a checkpoint taken now (recorded as
    ``audit.export``, in the checkpoint's transaction). Memory: one chunk of events whatever the
    size; the manifest (``Link`` header) can be fetched once the stream has ended."""
    if fmt not in FORMATS:
        raise BadQuery(f"format must be one of {', '.join(FORMATS)}.")
    signer, export_id = signer_for(settings), new_id()

    def start(conn: Connection) -> chain.Checkpoint | None:
        append(conn, workspace_id, actor, "audit.export", "AuditExport", export_id,
               detail={"format": fmt, "filters": filters.view()})  # fmt: skip
        conn.execute(insert(exports).values(id=export_id, workspace_id=workspace_id, format=fmt, created=now()))
        return chain.checkpoint(conn, signer, workspace_id, "export", force=False)

    head = await db.write(start)
    exporter = Exporter(fmt, sealed_query(workspace_id, filters).where(c.seq <= (head.seq if head else 0)))

    async def body() -> AsyncIterator[bytes]:
        chunks = exporter.chunks(db.read_sync)
        while (data := await anyio.to_thread.run_sync(next, chunks, None)) is not None:
            yield data
        manifest = exporter.manifest(signer, export_id, workspace_id, head, filters.view())
        await db.write(lambda conn: conn.execute(update(exports).where(exports.c.id == export_id)
                                                 .values(manifest=manifest)))  # fmt: skip

    name = f"audit-{export_id}.{'csv' if fmt == 'csv' else 'jsonl'}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "X-Export-Id": export_id,
               "Link": f'</api/v1/audit/exports/{export_id}/manifest>; rel="manifest"'}  # fmt: skip
    return ExportStream(export_id, MEDIA_TYPES[fmt], headers, body)


def sealed_query(workspace_id: int, filters: Filters) -> Select[Any]:
    return filters.apply(select(*COLUMNS).where(c.workspace_id == workspace_id, c.seq.is_not(None)))


async def list_events(db: Database, workspace_id: int, actor: str, filters: Filters, raw_cursor: str | None,
                      limit: int, *, descending: bool = True) -> tuple[list[Event], bool]:  # fmt: skip
    """One page of events (newest first unless ``descending`` is False) and whether more follow.
    Seals first, so an event committed before the call is in the answer; records the read."""
    position = cursor.decode(SCOPE, raw_cursor, int)[0] if raw_cursor else None
    def record(conn: Connection) -> None:
        chain.seal_all(conn, workspace_id)
        append(conn, workspace_id, actor, "audit.read", "AuditTrail", None, detail={"filters": filters.view()})

    await db.write(record)

    def unit(conn: Connection) -> list[Event]:
        query = sealed_query(workspace_id, filters)
        if position is not None:
            query = query.where(c.seq < position if descending else c.seq > position)
        order = c.seq.desc() if descending else c.seq
        return [Event.from_row(r) for r in conn.execute(query.order_by(order).limit(limit + 1))]

    rows = await db.read(unit)
    return rows[:limit], len(rows) > limit


async def verify(db: Database, settings: Settings, workspace_id: int, actor: str | None) -> chain.Verification:
    """Seal, then recompute the chain (off the event loop) and record that it was checked."""
    await db.write(lambda conn: chain.seal_all(conn, workspace_id))
    result = await anyio.to_thread.run_sync(lambda: chain.verify(db.read_sync, workspace_id, signer_for(settings).jwks()))
    if actor is not None:
        await db.write(lambda conn: append(conn, workspace_id, actor, "audit.verify", "AuditTrail", None,
                                           "success" if result.ok else "failure", detail=result.view()))  # fmt: skip
    return result


def verify_sync(db: Database, settings: Settings, workspace: str | None) -> list[tuple[str, chain.Verification]]:
    """``verify`` for the CLI: one workspace by name, or every workspace."""
    workspaces = Workspace.__table__
    query = select(workspaces.c.id, workspaces.c.name).order_by(workspaces.c.name)
    if workspace is not None:
        query = query.where(workspaces.c.name == workspace)
    found = db.read_sync(lambda conn: conn.execute(query).all())
    jwks = signer_for(settings).jwks()
    results = []
    for ws, name in found:
        db.write_sync(partial(chain.seal_all, workspace_id=int(ws)))
        results.append((str(name), chain.verify(db.read_sync, int(ws), jwks)))
    return results


async def background(db: Database, settings: Settings, stop: asyncio.Event) -> None:
    """Seal committed events when the store is quiet (``sealer.Sealer``); sign each moved head
    every ``audit_checkpoint_seconds``. Errors are logged and retried on the next tick."""
    await Sealer(db, settings).run(stop, signer_for)


async def access_report(db: Database, workspace_id: int, actor: str, app_id: str, fmt: str,
                        at: datetime | None) -> tuple[access.AppRef, Iterator[dict[str, Any]]]:  # fmt: skip
    """Open the access review of ``app_id`` (now, or as it stood at ``at``): records the read
    and returns the app and its rows (a lazy iterator that reads a page at a time on ``db``).
    An ``at`` not yet past is now (the route says which instant it answered for).
    Raises ``access.UnknownApp`` (another workspace's app too)."""
    if at is not None and at >= now():
        at = None

    def start(conn: Connection) -> access.AppRef:
        ref = access.app_ref(conn, workspace_id, app_id)
        append(conn, workspace_id, actor, "access.read", "App", app_id, app_id=app_id,
               detail={"format": fmt, "at": iso_utc(at) if at is not None else None})  # fmt: skip
        return ref

    app = await db.write(start)
    return app, (access.rows(db.read_sync, app) if at is None else history.rows_at(db.read_sync, app, at))
