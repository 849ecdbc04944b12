"""directory change feed: ``directory_changes`` (what each SCIM write changed) and
``app_reconcile_state`` (how far each app has reconciled it, and its unsettled users), so a
SCIM change reconciles only the slice of an app it can affect.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_changes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("group_id", sa.String(36), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_directory_changes_ws_seq", "directory_changes", ["workspace_id", "seq"])
    op.create_table(
        "app_reconcile_state",
        sa.Column("app_id", sa.String(36), sa.ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("unsettled", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("app_reconcile_state")
    op.drop_index("ix_directory_changes_ws_seq", table_name="directory_changes")
    op.drop_table("directory_changes")
