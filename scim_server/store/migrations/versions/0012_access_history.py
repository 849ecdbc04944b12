"""access_history: an append-only history of app members' access (state, role, match,
exemption, closing) and of asset permissions, written by triggers in the transaction of every
change, so the point-in-time access report can replay it (scim_server/audit/history.py).

The current rows are copied in as the history's first entries (stamped with the migration's
time: nothing earlier is known). On SQLite a later ``batch_alter_table`` of ``app_members`` or
``app_permissions`` recreates the table and drops its triggers: such a migration must create
them again (``tests/audit/test_history.py`` fails otherwise).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEMBER = ("remote_id", "email", "username", "display_name", "app_role", "status", "state", "user_id", "bridge_role",
          "match_source", "exempt_reason", "exempted_by", "exempted_at", "closed")  # fmt: skip
_MEMBER_COLS = ", ".join(("at", "workspace_id", "app_id", "member_id") + MEMBER)
_PERM_COLS = "at, workspace_id, app_id, asset_id, remote_id, permission"
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def _values(row: str, now: str) -> str:
    return ", ".join((now, f"{row}.workspace_id", f"{row}.app_id", f"{row}.id") + tuple(f"{row}.{c}" for c in MEMBER))


def _sqlite() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in MEMBER)
    member = f"INSERT INTO member_history ({_MEMBER_COLS}) VALUES ({_values('NEW', _SQLITE_NOW)});"

    def perm(row: str, permission: str) -> str:
        return (f"INSERT INTO permission_history ({_PERM_COLS}) VALUES ({_SQLITE_NOW}, {row}.workspace_id, "
                f"{row}.app_id, {row}.asset_id, {row}.remote_id, {permission});")  # fmt: skip

    return [
        f"CREATE TRIGGER member_history_insert AFTER INSERT ON app_members BEGIN {member} END",
        f"CREATE TRIGGER member_history_update AFTER UPDATE ON app_members WHEN {changed} BEGIN {member} END",
        f"CREATE TRIGGER permission_history_insert AFTER INSERT ON app_permissions BEGIN {perm('NEW', 'NEW.permission')} END",
        ("CREATE TRIGGER permission_history_update AFTER UPDATE ON app_permissions WHEN NEW.permission IS NOT "
         "OLD.permission OR NEW.asset_id IS NOT OLD.asset_id OR NEW.remote_id IS NOT OLD.remote_id BEGIN "
         f"{perm('OLD', 'NULL')} {perm('NEW', 'NEW.permission')} END"),
        f"CREATE TRIGGER permission_history_delete AFTER DELETE ON app_permissions BEGIN {perm('OLD', 'NULL')} END",
    ]


def _postgres() -> list[str]:
    changed = f"ROW({', '.join('NEW.' + c for c in MEMBER)}) IS DISTINCT FROM ROW({', '.join('OLD.' + c for c in MEMBER)})"
    return [
        f"""CREATE FUNCTION member_history_record() RETURNS trigger AS $$
            BEGIN
              INSERT INTO member_history ({_MEMBER_COLS}) VALUES ({_values('NEW', 'clock_timestamp()')});
              RETURN NULL;
            END; $$ LANGUAGE plpgsql""",
        f"""CREATE FUNCTION permission_history_record() RETURNS trigger AS $$
            BEGIN
              IF TG_OP IN ('UPDATE', 'DELETE') THEN
                INSERT INTO permission_history ({_PERM_COLS}) VALUES (clock_timestamp(), OLD.workspace_id, OLD.app_id,
                  OLD.asset_id, OLD.remote_id, NULL);
              END IF;
              IF TG_OP IN ('INSERT', 'UPDATE') THEN
                INSERT INTO permission_history ({_PERM_COLS}) VALUES (clock_timestamp(), NEW.workspace_id, NEW.app_id,
                  NEW.asset_id, NEW.remote_id, NEW.permission);
              END IF;
              RETURN NULL;
            END; $$ LANGUAGE plpgsql""",
        ("CREATE TRIGGER member_history_insert AFTER INSERT ON app_members FOR EACH ROW "
         "EXECUTE PROCEDURE member_history_record()"),
        (f"CREATE TRIGGER member_history_update AFTER UPDATE ON app_members FOR EACH ROW WHEN ({changed}) "
         "EXECUTE PROCEDURE member_history_record()"),
        ("CREATE TRIGGER permission_history_insert_delete AFTER INSERT OR DELETE ON app_permissions FOR EACH ROW "
         "EXECUTE PROCEDURE permission_history_record()"),
        ("CREATE TRIGGER permission_history_update AFTER UPDATE ON app_permissions FOR EACH ROW WHEN "
         "(ROW(NEW.permission, NEW.asset_id, NEW.remote_id) IS DISTINCT FROM ROW(OLD.permission, OLD.asset_id, "
         "OLD.remote_id)) EXECUTE PROCEDURE permission_history_record()"),
    ]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "member_history",
        sa.Column("id", big, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("remote_id", sa.String(length=300), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("username", sa.String(length=300), nullable=True),
        sa.Column("display_name", sa.String(length=300), nullable=True),
        sa.Column("app_role", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=True),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("bridge_role", sa.String(length=20), nullable=True),
        sa.Column("match_source", sa.String(length=20), nullable=True),
        sa.Column("exempt_reason", sa.Text(), nullable=True),
        sa.Column("exempted_by", sa.String(length=100), nullable=True),
        sa.Column("exempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_history")),
    )
    op.create_index("ix_member_history_app_member", "member_history", ["app_id", "member_id", "id"])
    op.create_table(
        "permission_history",
        sa.Column("id", big, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("asset_id", sa.String(length=200), nullable=False),
        sa.Column("remote_id", sa.String(length=300), nullable=False),
        sa.Column("permission", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permission_history")),
    )
    op.create_index("ix_permission_history_app_remote", "permission_history", ["app_id", "remote_id", "id"])
    now = _SQLITE_NOW if sqlite else "now()"
    op.execute(f"INSERT INTO member_history ({_MEMBER_COLS}) SELECT {_values('m', now)} FROM app_members m")
    op.execute(f"INSERT INTO permission_history ({_PERM_COLS}) SELECT {now}, p.workspace_id, p.app_id, p.asset_id, "
               "p.remote_id, p.permission FROM app_permissions p")  # fmt: skip
    for statement in _sqlite() if sqlite else _postgres():
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name in ("member_history_insert", "member_history_update", "permission_history_insert",
                     "permission_history_update", "permission_history_delete"):  # fmt: skip
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.execute("DROP TRIGGER member_history_insert ON app_members")
        op.execute("DROP TRIGGER member_history_update ON app_members")
        op.execute("DROP TRIGGER permission_history_insert_delete ON app_permissions")
        op.execute("DROP TRIGGER permission_history_update ON app_permissions")
        op.execute("DROP FUNCTION member_history_record()")
        op.execute("DROP FUNCTION permission_history_record()")
    op.drop_index("ix_permission_history_app_remote", table_name="permission_history")
    op.drop_table("permission_history")
    op.drop_index("ix_member_history_app_member", table_name="member_history")
    op.drop_table("member_history")
