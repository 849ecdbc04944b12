"""Retention: how long a workspace keeps its audit events, and expiring older ones without
breaking the chain.

``expire`` runs in two steps. First, in one transaction: the expiry is itself recorded
(``audit.expire``) and sealed, the last event to expire is found (the longest prefix of the
chain older than the cutoff, so no younger event goes with it), and a ``retention`` checkpoint
signing that event's seq and hash is stored: the chain's new start. Then the events up to it
are deleted in batches (the append-only trigger allows exactly that, migration 0015); an
interrupted deletion simply resumes on the next run, and ``verify`` reads from the start the
checkpoint names whether or not the rows below it are gone yet.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select

from scim_server.audit import chain
from scim_server.audit.events import audit_events
from scim_server.audit.keys import Signer
from scim_server.audit.log import append
from scim_server.store.db import Database, now
from scim_server.store.history_models import AuditRetention
from scim_server.store.models import Workspace

log = logging.getLogger("scim_bridge.audit")
retention = AuditRetention.__table__
c, k = audit_events.c, chain.checkpoints.c
MAX_DAYS = 36_500
DELETE_BATCH = 10_000
INTERVAL = 3600.0  # seconds between runs of the background expiry


class BadRetention(ValueError):
    """A retention period that is not a whole number of days in 1..36500 (or null)."""


@dataclass(frozen=True, slots=True)
class Expiry:
    workspace_id: int
    through_seq: int  # the chain starts after this seq (0: nothing ever expired)
    deleted: int

    def view(self) -> dict[str, Any]:
        return {"expired_through_seq": self.through_seq, "deleted": self.deleted}


def get_days(conn: Connection, workspace_id: int) -> int | None:
    return conn.execute(select(retention.c.days).where(retention.c.workspace_id == workspace_id)).scalar()


def floor(conn: Connection, workspace_id: int) -> int:
    """The seq of the latest retention checkpoint (0: none)."""
    query = select(func.max(k.seq)).where(k.workspace_id == workspace_id, k.reason == "retention")
    return int(conn.execute(query).scalar() or 0)


def set_days(conn: Connection, workspace_id: int, actor: str, days: Any) -> int | None:
    """Set the workspace's retention period (None: keep for ever); recorded with before/after."""
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS):
        raise BadRetention(f"days must be a whole number from 1 to {MAX_DAYS}, or null to keep events for ever.")
    before = get_days(conn, workspace_id)
    conn.execute(delete(retention).where(retention.c.workspace_id == workspace_id))
    conn.execute(retention.insert().values(workspace_id=workspace_id, days=days, updated=now(), updated_by=actor[:100]))
    append(conn, workspace_id, actor, "audit.retention.set", "Workspace", str(workspace_id),
           before={"days": before}, after={"days": days})  # fmt: skip
    return days


def _mark(conn: Connection, signer: Signer, workspace_id: int, actor: str, cutoff: datetime) -> int:
    """Step one (one transaction): record, seal, sign the new start; returns its seq."""
    start = floor(conn, workspace_id)
    append(conn, workspace_id, actor, "audit.expire", "AuditTrail", None, detail={"before": cutoff.isoformat()})
    chain.seal_all(conn, workspace_id)
    young = conn.execute(select(func.min(c.seq)).where(c.workspace_id == workspace_id, c.seq > start,
                                                       c.at >= cutoff)).scalar()  # fmt: skip
    through = int(young) - 1 if young is not None else start  # the audit.expire event just sealed is younger
    if through <= start:
        return start
    digest = conn.execute(select(c.hash).where(c.workspace_id == workspace_id, c.seq == through)).scalar()
    chain.sign_checkpoint(conn, signer, workspace_id, through, str(digest), "retention")
    return through


def _delete_batch(conn: Connection, workspace_id: int, through: int) -> int:
    low = conn.execute(select(func.min(c.seq)).where(c.workspace_id == workspace_id, c.seq <= through)).scalar()
    if low is None:
        return 0
    result = conn.execute(delete(audit_events).where(c.workspace_id == workspace_id, c.seq >= low,
                                                     c.seq <= min(through, int(low) + DELETE_BATCH - 1)))  # fmt: skip
    return int(result.rowcount or 0)


def expire_sync(db: Database, signer: Signer, workspace_id: int, actor: str, *, days: int | None = None,
                at: datetime | None = None) -> Expiry:  # fmt: skip
    """Expire the events older than the workspace's period (or ``days``) before ``at`` (now).
    Without a period, only finishes an interrupted deletion. Idempotent."""
    period = days if days is not None else db.read_sync(lambda conn: get_days(conn, workspace_id))
    through = db.read_sync(lambda conn: floor(conn, workspace_id))
    if period is not None:
        cutoff = (at or now()) - timedelta(days=period)
        through = db.write_sync(lambda conn: _mark(conn, signer, workspace_id, actor, cutoff))
    deleted = 0
    while through and (n := db.write_sync(lambda conn: _delete_batch(conn, workspace_id, through))):
        deleted += n
    return Expiry(workspace_id, through, deleted)


async def loop(db: Database, signer: Signer, stop: asyncio.Event) -> None:
    """Expire every workspace with a retention period, every ``INTERVAL`` seconds."""
    while not stop.is_set():
        try:
            rows = await db.read(lambda conn: conn.execute(select(retention.c.workspace_id)
                                                           .where(retention.c.days.is_not(None))).all())  # fmt: skip
            for (ws,) in rows:
                await asyncio.to_thread(expire_sync, db, signer, int(ws), "retention")
        except Exception:
            log.exception("audit retention failed; retrying")
        try:
            await asyncio.wait_for(stop.wait(), INTERVAL)
        except TimeoutError:
            pass


def workspace_id_of(conn: Connection, name: str) -> int | None:
    table = Workspace.__table__
    value = conn.execute(select(table.c.id).where(table.c.name == name)).scalar()
    return None if value is None else int(value)
