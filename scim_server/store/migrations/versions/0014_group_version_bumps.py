"""scim_group_bumps: version bumps of a group that do not lock its row.

A user delete on PostgreSQL used to bump the version of each of the user's groups with an
UPDATE, which holds the group's row lock until the commit: deletes of members of one group
queued one behind the other, each through its commit's WAL flush. It now inserts a row here
per group instead (no lock a concurrent member delete waits for); a group's version is its
row's version plus its bump rows, read in one snapshot, and the group's next own write folds
the rows into its version (scim_server/store/fastsql.py). SQLite, with one writer, keeps the
UPDATE and leaves this table empty.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scim_group_bumps",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["scim_groups.id"], name=op.f("fk_scim_group_bumps_group_id_scim_groups"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_group_bumps")),
    )
    op.create_index("ix_scim_group_bumps_group", "scim_group_bumps", ["group_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_scim_group_bumps_group", table_name="scim_group_bumps")
    op.drop_table("scim_group_bumps")
