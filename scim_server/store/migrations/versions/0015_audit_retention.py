"""audit_retention: a retention period per workspace, and expiry that keeps the chain verifiable.

Events may now be deleted, but only those at or below a ``retention`` checkpoint of their
workspace: expiry first signs a checkpoint naming the last expired event's seq and hash (the
chain's new start, which ``verify`` checks against its signature), then deletes up to it. Every
other DELETE and UPDATE is still refused as in 0005.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# COALESCE: with no retention checkpoint the comparison must be false, not NULL (SQLite skips a
# trigger whose WHEN is NULL, which would let the DELETE through)
_FLOOR = ("COALESCE((SELECT max(k.seq) FROM audit_checkpoints k WHERE k.workspace_id = OLD.workspace_id "
          "AND k.reason = 'retention'), 0)")  # fmt: skip
_SQLITE_UP = [
    "DROP TRIGGER audit_events_no_delete",
    f"""CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       WHEN NOT (OLD.seq IS NOT NULL AND OLD.seq <= {_FLOOR})
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
]
_SQLITE_DOWN = [
    "DROP TRIGGER audit_events_no_delete",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
]
_POSTGRES_UP = [
    f"""CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
            AND (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash') = (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash')
         THEN RETURN NEW; END IF;
         IF TG_OP = 'DELETE' AND OLD.seq IS NOT NULL AND OLD.seq <= {_FLOOR} THEN RETURN OLD; END IF;
         RAISE EXCEPTION 'audit_events is append-only';
       END; $$ LANGUAGE plpgsql""",
]
_POSTGRES_DOWN = [
    """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
            AND (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash') = (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash')
         THEN RETURN NEW; END IF;
         RAISE EXCEPTION 'audit_events is append-only';
       END; $$ LANGUAGE plpgsql""",
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "audit_retention",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_audit_retention")),
    )
    for statement in _SQLITE_UP if sqlite else _POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _SQLITE_DOWN if sqlite else _POSTGRES_DOWN:
        op.execute(statement)
    op.drop_table("audit_retention")
