"""slice_path_indexes: every statement an app's reconcile job (``incremental.catch_up``) runs for one
SCIM change reads rows in proportion to the change, not to the app (issue 13: 8 apps of 10,000
members, a deactivation reaching each app's slice in a few milliseconds).

- ``ix_app_members_unsure`` (app_id), partial on the open disputed members and the exempted ones
  with no user: the slice's seed (``incremental.load_slice``) reads just those; the OR in its
  condition kept every app index unusable and walked the whole app;
- ``ix_app_members_active`` (app_id), partial on the open non-pending members: the app's active
  count the mass-removal guard weighs a plan's removals against (``reconcile.planned`` reads it
  only when a plan's removals could trip the guard) is an index-only count, not a table walk;
- ``ix_jobs_removals`` (workspace_id, app_id, created), partial on ``kind = 'remove'``: the guard's window of
  recent removals (``reconcile._recent_removals``) seeks the window's removals, not every job the
  app had in the window (its reconciles);
- ``ix_jobs_live`` gains ``run_after`` (app_id, status, run_after): the claim's oldest due job of an
  app (``queue._oldest_of``) is one index seek; SQLite had preferred ``ix_jobs_claim`` for the
  ``ORDER BY run_after`` and walked every queued job of every app.

The partial indexes' conditions are spelled exactly as the queries spell them (SQLite uses a
partial index only for a query whose WHERE contains the index's terms verbatim).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSURE = "closed IS NULL AND (state = 'disputed' OR (state = 'exempted' AND user_id IS NULL))"
ACTIVE = "closed IS NULL AND status != 'pending'"
REMOVALS = "kind = 'remove'"


def _partial(name: str, table: str, columns: list[str], condition: str) -> None:
    op.create_index(name, table, columns, sqlite_where=sa.text(condition), postgresql_where=sa.text(condition))


def upgrade() -> None:
    _partial("ix_app_members_unsure", "app_members", ["app_id"], UNSURE)
    _partial("ix_app_members_active", "app_members", ["app_id"], ACTIVE)
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_live")
        batch_op.create_index("ix_jobs_live", ["app_id", "status", "run_after"], unique=False)
    _partial("ix_jobs_removals", "jobs", ["workspace_id", "app_id", "created"], REMOVALS)


def downgrade() -> None:
    op.drop_index("ix_jobs_removals", table_name="jobs")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_live")
        batch_op.create_index("ix_jobs_live", ["app_id", "status"], unique=False)
    op.drop_index("ix_app_members_active", table_name="app_members")
    op.drop_index("ix_app_members_unsure", table_name="app_members")
