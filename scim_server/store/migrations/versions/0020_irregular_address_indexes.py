"""irregular_address_indexes: a whole-app reconciliation reads the users its members and rules reach
(``reconcile.relevant_directory``), looking keys up as stored; the users with an address whose
stored form need not be its key (``models.irregular``: blanks, non-ASCII, a final dot, ``mailto:``)
are read whatever their keys. These partial indexes hold just those users, so reading them costs
what they number, not a pass over the directory (130 ms a check at 100,000 users on PostgreSQL).

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _irregular(column: str, dialect: str) -> str:
    """``models.irregular`` as of this revision (a migration does not follow later models)."""
    if dialect == "sqlite":
        return f"({column} GLOB '*[^!-~]*' OR {column} GLOB '*.' OR {column} GLOB 'mailto:*')"
    return f"{column} ~ '[^!-~]|[.]$|^mailto:'"


def upgrade() -> None:
    email = {d: f"path = 'emails.value' AND {_irregular('value_ci', d)}" for d in ("sqlite", "postgresql")}
    op.create_index("ix_scim_user_values_irregular", "scim_user_values", ["workspace_id", "user_id"],
                    sqlite_where=sa.text(email["sqlite"]), postgresql_where=sa.text(email["postgresql"]))  # fmt: skip
    op.create_index("ix_scim_users_irregular", "scim_users", ["workspace_id"],
                    sqlite_where=sa.text(_irregular("user_name_ci", "sqlite")),
                    postgresql_where=sa.text(_irregular("user_name_ci", "postgresql")))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_scim_users_irregular", table_name="scim_users")
    op.drop_index("ix_scim_user_values_irregular", table_name="scim_user_values")
