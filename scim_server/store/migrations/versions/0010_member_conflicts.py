"""member_conflicts: what the plan wants for a member but cannot do (e.g. a role change its app's
kind cannot make), kept on the member so its view shows it.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_members") as batch:
        batch.add_column(sa.Column("conflicts", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("app_members") as batch:
        batch.drop_column("conflicts")
