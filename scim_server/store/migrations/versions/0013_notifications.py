"""notify_* and siem_positions: the notification outbox and its deliveries, webhooks, a
workspace's notification addresses, report reminders, and each SIEM sink's delivery position.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notify_events",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created", TZ, nullable=False),
        sa.Column("dispatched", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_events")),
    )
    op.create_index("ix_notify_events_status", "notify_events", ["status", "created"])
    op.create_index("ix_notify_events_dedupe", "notify_events", ["workspace_id", "dedupe_key", "status"])
    op.create_table(
        "notify_deliveries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("webhook_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", TZ, nullable=False),
        sa.Column("lease_until", TZ, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("created", TZ, nullable=False),
        sa.Column("delivered", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_deliveries")),
    )
    op.create_index("ix_notify_deliveries_due", "notify_deliveries", ["status", "next_at"])
    op.create_index("ix_notify_deliveries_webhook", "notify_deliveries", ["workspace_id", "webhook_id", "created"])
    op.create_table(
        "notify_webhooks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_webhooks")),
    )
    op.create_index("ix_notify_webhooks_workspace", "notify_webhooks", ["workspace_id", "created"])
    op.create_table(
        "notify_settings",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("emails", sa.Text(), nullable=False),
        sa.Column("updated", TZ, nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_notify_settings")),
    )
    op.create_table(
        "notify_reminders",
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("last_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_notify_reminders")),
    )
    op.create_table(
        "siem_positions",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("sink", sa.String(40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated", TZ, nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "sink", name=op.f("pk_siem_positions")),
    )


def downgrade() -> None:
    for table in ("siem_positions", "notify_reminders", "notify_settings", "notify_webhooks"):
        op.drop_table(table)
    op.drop_index("ix_notify_deliveries_webhook", "notify_deliveries")
    op.drop_index("ix_notify_deliveries_due", "notify_deliveries")
    op.drop_table("notify_deliveries")
    op.drop_index("ix_notify_events_dedupe", "notify_events")
    op.drop_index("ix_notify_events_status", "notify_events")
    op.drop_table("notify_events")
