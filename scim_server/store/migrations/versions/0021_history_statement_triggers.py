"""history_statement_triggers: on PostgreSQL the access history (0012) is written by statement-level
triggers over transition tables, one ``INSERT ... SELECT`` per statement, instead of a PL/pgSQL
call per row: a check that matches 10,000 members updates them in one statement, and the row
triggers cost more than the update itself (10,000 rows: 434 ms against 276 without triggers;
inserts 477 against 266). Same history: a row per inserted member, per member whose recorded
columns changed, per permission inserted or deleted, and for a changed permission its old row
(permission NULL) before its new one. SQLite keeps its row triggers (they run in the process).

PostgreSQL allows transition tables on single-event triggers only: one trigger per event.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0012 = importlib.import_module("scim_server.store.migrations.versions.0012_access_history")
MEMBER: tuple[str, ...] = _0012.MEMBER
_MEMBER_COLS = ", ".join(("at", "workspace_id", "app_id", "member_id") + MEMBER)
_PERM_COLS = "at, workspace_id, app_id, asset_id, remote_id, permission"
_MEMBER_VALUES = ", ".join(("clock_timestamp()", "n.workspace_id", "n.app_id", "n.id") + tuple(f"n.{c}" for c in MEMBER))
_CHANGED = f"ROW({', '.join('n.' + c for c in MEMBER)}) IS DISTINCT FROM ROW({', '.join('o.' + c for c in MEMBER)})"


# A permission row unchanged by an UPDATE is in both transition tables (every column compared is
# NOT NULL: a hashed anti-join, not a scan per row); a changed one gives its old row (NULL) then
# its new one, as the row trigger did.
_SAME = " AND ".join(f"n.{c} = o.{c}" for c in ("app_id", "asset_id", "remote_id", "permission"))


def _perm(row: str, permission: str) -> str:
    return (f"SELECT clock_timestamp(), {row}.workspace_id, {row}.app_id, {row}.asset_id, {row}.remote_id, "
            f"{permission}")  # fmt: skip


# (function, its INSERT, trigger, event, transition tables)
_SETS = (
    ("member_history_inserted", f"INSERT INTO member_history ({_MEMBER_COLS}) SELECT {_MEMBER_VALUES} FROM n",
     "member_history_insert", "INSERT ON app_members", "NEW TABLE AS n"),
    ("member_history_changed",
     f"INSERT INTO member_history ({_MEMBER_COLS}) SELECT {_MEMBER_VALUES} FROM n JOIN o ON o.id = n.id WHERE {_CHANGED}",
     "member_history_update", "UPDATE ON app_members", "OLD TABLE AS o NEW TABLE AS n"),
    ("permission_history_inserted", f"INSERT INTO permission_history ({_PERM_COLS}) {_perm('n', 'n.permission')} FROM n",
     "permission_history_insert", "INSERT ON app_permissions", "NEW TABLE AS n"),
    ("permission_history_deleted", f"INSERT INTO permission_history ({_PERM_COLS}) {_perm('o', 'NULL')} FROM o",
     "permission_history_delete", "DELETE ON app_permissions", "OLD TABLE AS o"),
    ("permission_history_changed",
     (f"INSERT INTO permission_history ({_PERM_COLS}) SELECT at, workspace_id, app_id, asset_id, remote_id, permission "
      f"FROM ({_perm('o', 'NULL')}, 0 FROM o WHERE NOT EXISTS (SELECT FROM n WHERE {_SAME}) "
      f"UNION ALL {_perm('n', 'n.permission')}, 1 FROM n WHERE NOT EXISTS (SELECT FROM o WHERE {_SAME})"
      ") AS t(at, workspace_id, app_id, asset_id, remote_id, permission, side) ORDER BY side"),
     "permission_history_update", "UPDATE ON app_permissions", "OLD TABLE AS o NEW TABLE AS n"),
)
_ROW_TRIGGERS = (("member_history_insert", "app_members"), ("member_history_update", "app_members"),
                 ("permission_history_insert_delete", "app_permissions"),
                 ("permission_history_update", "app_permissions"))  # fmt: skip


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table in _ROW_TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION member_history_record()")
    op.execute("DROP FUNCTION permission_history_record()")
    for function, insert, trigger, event, tables in _SETS:
        op.execute(f"CREATE FUNCTION {function}() RETURNS trigger AS $$ BEGIN {insert}; RETURN NULL; END; "
                   "$$ LANGUAGE plpgsql")  # fmt: skip
        op.execute(f"CREATE TRIGGER {trigger} AFTER {event} REFERENCING {tables} FOR EACH STATEMENT "
                   f"EXECUTE FUNCTION {function}()")  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for function, _, trigger, event, _ in _SETS:
        op.execute(f"DROP TRIGGER {trigger} ON {event.split(' ON ')[1]}")
        op.execute(f"DROP FUNCTION {function}()")
    for statement in _0012._postgres():
        op.execute(statement)
