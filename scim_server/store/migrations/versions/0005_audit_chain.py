"""audit chain: events gain target display, app, changes, and the per-workspace chain columns
(``seq``, ``prev_hash``, ``hash``); signed checkpoints and export manifests get tables.

The append-only trigger of 0002 is replaced by one that still refuses DELETE and every UPDATE
but the seal: setting ``seq``/``prev_hash``/``hash`` on a row where ``hash`` was NULL, with no
other column changed. Columns are added with plain ALTER TABLE (no batch copy on SQLite, which
would drop the triggers).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNCHANGED = " AND ".join(
    f"NEW.{c} IS OLD.{c}"
    for c in ("id", "workspace_id", "at", "actor", "action", "target_type", "target_id", "outcome", "detail",
              "target_display", "app_id", "changes")
)  # fmt: skip

_SQLITE_UP = [
    "DROP TRIGGER audit_events_no_update",
    f"""CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       WHEN NOT (OLD.hash IS NULL AND NEW.hash IS NOT NULL AND {_UNCHANGED})
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
]
_SQLITE_DOWN = [
    "DROP TRIGGER audit_events_no_update",
    """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
]
_POSTGRES_UP = [
    """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
            AND (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash') = (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash')
         THEN RETURN NEW; END IF;
         RAISE EXCEPTION 'audit_events is append-only';
       END; $$ LANGUAGE plpgsql""",
]
_POSTGRES_DOWN = [
    """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit_events is append-only'; END; $$ LANGUAGE plpgsql""",
]
_NEW_COLUMNS = ("target_display", "app_id", "changes", "seq", "prev_hash", "hash")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("audit_events", sa.Column("target_display", sa.String(length=200), nullable=True))
    op.add_column("audit_events", sa.Column("app_id", sa.String(length=40), nullable=True))
    op.add_column("audit_events", sa.Column("changes", sa.Text(), nullable=True))
    op.add_column("audit_events", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_events", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_events", sa.Column("hash", sa.String(length=64), nullable=True))
    op.create_index("ux_audit_events_workspace_seq", "audit_events", ["workspace_id", "seq"], unique=True)
    op.create_index("ix_audit_events_unsealed", "audit_events", ["workspace_id", "id"],
                    sqlite_where=sa.text("seq IS NULL"), postgresql_where=sa.text("seq IS NULL"))  # fmt: skip
    for statement in _SQLITE_UP if sqlite else _POSTGRES_UP:
        op.execute(statement)
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    op.create_index("ix_audit_checkpoints_workspace_seq", "audit_checkpoints", ["workspace_id", "seq"])
    op.create_table(
        "audit_exports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_exports")),
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_table("audit_exports")
    op.drop_index("ix_audit_checkpoints_workspace_seq", table_name="audit_checkpoints")
    op.drop_table("audit_checkpoints")
    for statement in _SQLITE_DOWN if sqlite else _POSTGRES_DOWN:
        op.execute(statement)
    op.drop_index("ix_audit_events_unsealed", table_name="audit_events")
    op.drop_index("ux_audit_events_workspace_seq", table_name="audit_events")
    for column in reversed(_NEW_COLUMNS):
        op.drop_column("audit_events", column)
