"""Tables of notifications and SIEM streaming (migration 0013). Every row belongs to one workspace.

``notify_events`` is an outbox: a row is written in the transaction of the change it tells of
(a report gained entries, the guard held removals, a job failed for good), so a notification can
neither be lost nor sent for a change that rolled back. The background loop turns each event
into one ``notify_deliveries`` row per channel (email, each webhook) and sends those with
retries and backoff; a stopped receiver only delays its delivery.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scim_server.store.db import Base


class NotifyEvent(Base):
    """Something worth telling: ``kind`` and its facts (JSON ``data``). ``open`` until the loop
    dispatches it into deliveries; while open, changes of the same ``dedupe_key`` merge into it
    (a burst of deactivations makes one message, not one per person)."""

    __tablename__ = "notify_events"
    __table_args__ = (
        Index("ix_notify_events_status", "status", "created"),
        Index("ix_notify_events_dedupe", "workspace_id", "dedupe_key", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # open | dispatched
    data: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    dispatched: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotifyDelivery(Base):
    """One event to one channel: ``email`` (every address at the time of sending) or ``webhook``."""

    __tablename__ = "notify_deliveries"
    __table_args__ = (
        Index("ix_notify_deliveries_due", "status", "next_at"),
        Index("ix_notify_deliveries_webhook", "workspace_id", "webhook_id", "created"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(36))
    channel: Mapped[str] = mapped_column(String(20))  # email | webhook
    webhook_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20))  # pending | delivered | failed | cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    response_status: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotifyWebhook(Base):
    """A receiver of notifications. ``secret`` is Fernet-sealed (``vault.py``), never returned."""

    __tablename__ = "notify_webhooks"
    __table_args__ = (Index("ix_notify_webhooks_workspace", "workspace_id", "created"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NotifySettings(Base):
    """A workspace's notification addresses (JSON list), beside ``SCIM_BRIDGE_NOTIFY_EMAILS``."""

    __tablename__ = "notify_settings"

    workspace_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    emails: Mapped[str] = mapped_column(Text)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NotifyReminder(Base):
    """How many reminders a pending report has had, and when the last went out."""

    __tablename__ = "notify_reminders"

    report_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    sent: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SiemPosition(Base):
    """The last audit ``seq`` a SIEM sink acknowledged, per workspace and sink."""

    __tablename__ = "siem_positions"

    workspace_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sink: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
