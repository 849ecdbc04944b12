"""report_evidence: report entries name who and what they are about, the decision taken and why a
removal failed; one app per (workspace, kind, business id).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRY_COLUMNS = (
    sa.Column("email", sa.String(length=320), nullable=True),
    sa.Column("display_name", sa.String(length=512), nullable=True),
    sa.Column("app_role", sa.String(length=100), nullable=True),
    sa.Column("assets", sa.Text(), nullable=True),
    sa.Column("decision", sa.String(length=20), nullable=True),
    sa.Column("decision_reason", sa.Text(), nullable=True),
    sa.Column("decided_by", sa.String(length=100), nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
)


def upgrade() -> None:
    with op.batch_alter_table("deprovision_entries") as batch:
        for column in ENTRY_COLUMNS:
            batch.add_column(column)
    op.create_index("uq_apps_business", "apps", ["workspace_id", "kind", "business_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_apps_business", table_name="apps")
    with op.batch_alter_table("deprovision_entries") as batch:
        for column in reversed(ENTRY_COLUMNS):
            batch.drop_column(column.name)
