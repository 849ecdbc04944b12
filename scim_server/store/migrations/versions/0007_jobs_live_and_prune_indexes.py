"""jobs: indexes for an app's in-flight jobs and for pruning finished ones.

``ix_jobs_live`` (app_id, status) lets reconcile's in-flight query seek the app's queued and
running jobs instead of walking its whole job history; ``ix_jobs_finished`` (status, finished)
lets the pruner find completed jobs past the retention without a scan.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_live", ["app_id", "status"], unique=False)
        batch_op.create_index("ix_jobs_finished", ["status", "finished"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_finished")
        batch_op.drop_index("ix_jobs_live")
