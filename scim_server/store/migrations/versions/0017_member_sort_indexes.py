"""member_sort_indexes: the Members tabs' two main sort orders (email, the default, and name) as indexes, (app, set, sort key with NULL as
'', id), so any page of a sorted set, the first or one 40,000 deep, reads one page of an index
instead of sorting the whole set (the console pages by cursor on exactly these keys).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SORTS = {"ix_app_members_sort_email": "email_ci", "ix_app_members_sort_name": "display_name"}  # not role:
# a sort few use, and each index costs every first import (50,000 new members: ~+30% each, measured)


def upgrade() -> None:
    for name, column in SORTS.items():
        op.create_index(name, "app_members", ["app_id", "state", sa.text(f"coalesce({column}, '')"), "id"])


def downgrade() -> None:
    for name in SORTS:
        op.drop_index(name, table_name="app_members")
