"""jobs: indexes so that no job query reads the finished history (issue 13: a jobs table of 1,000,000
old rows left the same latencies).

- ``ix_jobs_ws_created`` (workspace_id, created, id): ``GET /jobs`` is newest first on (created,
  id): one page read from the index instead of a sort of every job of the workspace;
- ``ix_jobs_ws_status`` (workspace_id, status, created, id): the same with ``?status=`` (the
  backlog of queued jobs, the failed ones), a page of that status instead of a walk of all jobs;
- ``ix_jobs_app`` gains ``id`` (workspace_id, app_id, created, id): ``?app_id=`` is read in page
  order from it, not walked through the workspace's other apps' jobs.

The worker's claim takes an app's oldest due job through ``ix_jobs_live`` (app_id, status) now
(``queue._oldest_of``), no longer through ``ix_jobs_app``, which walked the app's whole history.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_app")
        batch_op.create_index("ix_jobs_app", ["workspace_id", "app_id", "created", "id"], unique=False)
        batch_op.create_index("ix_jobs_ws_created", ["workspace_id", "created", "id"], unique=False)
        batch_op.create_index("ix_jobs_ws_status", ["workspace_id", "status", "created", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_ws_status")
        batch_op.drop_index("ix_jobs_ws_created")
        batch_op.drop_index("ix_jobs_app")
        batch_op.create_index("ix_jobs_app", ["workspace_id", "app_id", "created"], unique=False)
