"""The SQL of delivering: dispatch open events into deliveries, claim due deliveries under a
lease (so two processes never send the same one at once), record each attempt's outcome.

Delivery is at least once: a process killed between sending and recording sends again when the
lease runs out. Each attempt carries the delivery's id (``X-Scim-Bridge-Delivery``) so a receiver
can drop a repeat.

Finished deliveries (delivered, failed for good, cancelled) and the dispatched events no delivery
refers to any more are pruned once older than the job retention, by the scheduler's prune pass
(``prune_all``); each batch is audited (``notifications.prune``) in the workspace it pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, exists, insert, or_, select, update

from scim_server.audit.log import append as audit
from scim_server.notify.message import Notice
from scim_server.notify.tables import NotifyDelivery, NotifyEvent, NotifyWebhook
from scim_server.store import fastsql
from scim_server.store.db import Database, new_id, now

events = NotifyEvent.__table__
deliveries = NotifyDelivery.__table__
webhooks = NotifyWebhook.__table__
LEASE = timedelta(seconds=120)
FINISHED = ("delivered", "failed", "cancelled")  # a delivery in one of these is never attempted again
PRUNE_BATCH = 2000
PRUNE_BATCHES = 25


@dataclass(frozen=True, slots=True)
class Policy:
    """Retries: the n-th failed attempt waits ``base * 2**(n-1)`` seconds, at most ``cap``."""

    base: float
    cap: float
    max_attempts: int

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.base * 2 ** max(attempts - 1, 0), self.cap))


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    channel: str
    webhook_id: str | None
    attempts: int
    notice: Notice
    url: str | None
    sealed_secret: str | None


def dispatch(conn: Connection, at: datetime, coalesce_seconds: float, email: bool, limit: int = 200) -> int:
    """Turn open events older than the coalescing window into deliveries: one ``email`` (when SMTP
    is configured) and one per webhook of the workspace. Returns how many events were dispatched."""
    cutoff = at - timedelta(seconds=coalesce_seconds)
    rows = conn.execute(select(events.c.id, events.c.workspace_id)
                        .where(events.c.status == "open", events.c.created <= cutoff)
                        .order_by(events.c.created).limit(limit)).all()  # fmt: skip
    done = 0
    for event_id, ws in rows:
        moved = conn.execute(update(events).where(events.c.id == event_id, events.c.status == "open")
                             .values(status="dispatched", dispatched=at))  # fmt: skip
        if moved.rowcount != 1:
            continue  # another process dispatched it
        hooks = [h for (h,) in conn.execute(select(webhooks.c.id).where(webhooks.c.workspace_id == ws))]
        channels = ([("email", None)] if email else []) + [("webhook", h) for h in hooks]
        for channel, hook in channels:
            conn.execute(insert(deliveries).values(id=new_id(), workspace_id=ws, event_id=event_id, channel=channel,
                                                   webhook_id=hook, status="pending", attempts=0, next_at=at,
                                                   created=at))  # fmt: skip
        done += 1
    return done


def claim(conn: Connection, at: datetime, limit: int = 20) -> list[Claimed]:
    """Take up to ``limit`` due deliveries under a lease, counting the attempt."""
    due = (select(deliveries.c.id).where(deliveries.c.status == "pending", deliveries.c.next_at <= at,
                                         or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < at))
           .order_by(deliveries.c.next_at).limit(limit))  # fmt: skip
    out: list[Claimed] = []
    for (delivery_id,) in conn.execute(due).all():
        taken = conn.execute(update(deliveries).where(
            deliveries.c.id == delivery_id, deliveries.c.status == "pending",
            or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < at))
            .values(lease_until=at + LEASE, attempts=deliveries.c.attempts + 1))  # fmt: skip
        if taken.rowcount == 1:
            out.append(_claimed(conn, delivery_id))
    return out


def _claimed(conn: Connection, delivery_id: str) -> Claimed:
    row = conn.execute(
        select(deliveries, events.c.kind, events.c.data, events.c.created.label("event_created"),
               webhooks.c.url, webhooks.c.secret)
        .join(events, events.c.id == deliveries.c.event_id)
        .outerjoin(webhooks, webhooks.c.id == deliveries.c.webhook_id)
        .where(deliveries.c.id == delivery_id)
    ).one()  # fmt: skip
    notice = Notice(row.event_id, row.workspace_id, row.kind, _loads(row.data), row.event_created)
    return Claimed(row.id, row.channel, row.webhook_id, row.attempts, notice, row.url, row.secret)


def _loads(raw: str) -> dict[str, Any]:
    return dict(orjson.loads(raw))


def record(conn: Connection, claimed: Claimed, at: datetime, policy: Policy, *, error: str | None,
           response_status: int | None = None) -> str:  # fmt: skip
    """The attempt's outcome: ``delivered``; else ``pending`` again after the backoff, or ``failed``
    once the attempts are spent. Returns the new status."""
    if error is None:
        values: dict[str, Any] = {"status": "delivered", "delivered": at, "last_error": None}
    elif claimed.attempts >= policy.max_attempts:
        values = {"status": "failed", "last_error": error[:500]}
    else:
        values = {"status": "pending", "next_at": at + policy.delay(claimed.attempts), "last_error": error[:500]}
    values |= {"lease_until": None, "response_status": response_status}
    conn.execute(update(deliveries).where(deliveries.c.id == claimed.id, deliveries.c.status == "pending")
                 .values(values))  # fmt: skip
    return str(values["status"])


def cancel_webhook(conn: Connection, webhook_id: str) -> None:
    """A deleted webhook's deliveries not sent yet are cancelled (kept, for the record)."""
    conn.execute(update(deliveries).where(deliveries.c.webhook_id == webhook_id, deliveries.c.status == "pending")
                 .values(status="cancelled", lease_until=None))  # fmt: skip


def next_due(conn: Connection) -> datetime | None:
    return conn.execute(select(deliveries.c.next_at).where(deliveries.c.status == "pending")
                        .order_by(deliveries.c.next_at).limit(1)).scalar()  # fmt: skip


def prune(conn: Connection, older_than: datetime, limit: int = PRUNE_BATCH) -> dict[int, tuple[int, int]]:
    """Delete up to ``limit`` finished deliveries whose last attempt was due before ``older_than``
    (ranges of ``ix_notify_deliveries_due``), then up to ``limit`` dispatched events created before
    it that no delivery refers to any more (a pending delivery keeps its event). Returns
    (deliveries, events) deleted per workspace."""
    old = select(deliveries.c.id, deliveries.c.workspace_id).where(
        deliveries.c.status.in_(FINISHED), deliveries.c.next_at < older_than).limit(limit)  # fmt: skip
    unreferenced = select(events.c.id, events.c.workspace_id).where(
        events.c.status == "dispatched", events.c.created < older_than,
        ~exists().where(deliveries.c.event_id == events.c.id)).limit(limit)  # fmt: skip
    gone_deliveries = fastsql.delete_selected(conn, deliveries, old)
    gone_events = fastsql.delete_selected(conn, events, unreferenced)  # after the deliveries: their events go in the same batch
    return {ws: (gone_deliveries.get(ws, 0), gone_events.get(ws, 0)) for ws in gone_deliveries.keys() | gone_events.keys()}


def prune_batch(conn: Connection, retention_seconds: float, actor: str) -> int:
    """One batch of ``prune`` with the retention's cutoff, audited per workspace; returns how
    many rows went (deliveries and events)."""
    cutoff = now() - timedelta(seconds=retention_seconds)
    counts = prune(conn, cutoff)
    for workspace_id, (gone_deliveries, gone_events) in sorted(counts.items()):
        audit(conn, workspace_id, actor, "notifications.prune", "Notification", None,
              detail={"finished_before": cutoff.isoformat(), "deliveries": gone_deliveries,
                      "events": gone_events})  # fmt: skip
    return sum(d + e for d, e in counts.values())


async def prune_all(db: Database, retention_seconds: float, actor: str) -> int:
    """``prune_batch`` in its own unit of work each (SQLite's writer is never held long), while
    the batches come full, at most ``PRUNE_BATCHES`` a call; returns the rows pruned."""
    pruned = 0
    for _ in range(PRUNE_BATCHES):
        count = await db.write(lambda conn: prune_batch(conn, retention_seconds, actor))
        pruned += count
        if count < PRUNE_BATCH:
            break
    return pruned
