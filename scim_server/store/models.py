"""Tables. Every row belongs to one workspace; every query filters on it.

Resources are stored as their canonical JSON document (``doc``, without ``id``/``meta``;
groups without ``members``) plus the columns that filters, sorting and uniqueness need.
Any other user attribute a filter can name is found through ``scim_user_values``: one row
per leaf value (``path`` like ``emails.value``; ``elem`` groups the sub-attributes of one
multi-valued element), so every SCIM filter becomes SQL on both SQLite and PostgreSQL.
Group members live in ``scim_group_members``, never in the document, so that patching a
2000-member group touches only the rows it changes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from scim_server.store.db import Base


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A bearer token. Only the SHA-256 of the token is kept: tokens are 256-bit random."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # None: never


class TokenEpoch(Base):
    """One row: how many token revocations there have been, bumped in the revoking transaction.
    Processes that cache verified tokens read it to forget what they cached before a revocation."""

    __tablename__ = "token_epoch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    epoch: Mapped[int] = mapped_column(BigInteger)


def irregular(column: str, dialect: str) -> str:
    """The condition on a stored address (``value_ci``, ``user_name_ci``) that it may not be its own
    matching key (``mapping.normalize_email``): a character outside printable ASCII (blanks,
    letters case folding or NFKC may change), a final dot, a ``mailto:``. Spelled once: SQLite
    uses a partial index only for a query that repeats its condition verbatim."""
    if dialect == "sqlite":
        return f"({column} GLOB '*[^!-~]*' OR {column} GLOB '*.' OR {column} GLOB 'mailto:*')"
    return f"{column} ~ '[^!-~]|[.]$|^mailto:'"


IRREGULAR_EMAIL = {d: f"path = 'emails.value' AND {irregular('value_ci', d)}" for d in ("sqlite", "postgresql")}
IRREGULAR_NAME = {d: irregular("user_name_ci", d) for d in ("sqlite", "postgresql")}


class ScimUser(Base):
    __tablename__ = "scim_users"
    __table_args__ = (
        UniqueConstraint("workspace_id", "user_name_ci", name="uq_scim_users_workspace_username"),
        Index("ix_scim_users_workspace_external", "workspace_id", "external_id"),
        Index("ix_scim_users_workspace_created", "workspace_id", "created", "id"),
        Index("ix_scim_users_irregular", "workspace_id", sqlite_where=text(IRREGULAR_NAME["sqlite"]),
              postgresql_where=text(IRREGULAR_NAME["postgresql"])),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_name: Mapped[str] = mapped_column(String(512))
    user_name_ci: Mapped[str] = mapped_column(String(512))
    external_id: Mapped[str | None] = mapped_column(String(512))
    display_name: Mapped[str | None] = mapped_column(String(512))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    doc: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ScimUserValue(Base):
    """One leaf value of a user document, for filters on any attribute path."""

    __tablename__ = "scim_user_values"
    __table_args__ = (
        Index("ix_scim_user_values_lookup", "workspace_id", "path", "value_ci"),
        Index("ix_scim_user_values_user_path", "user_id", "path", "elem"),
        Index("ix_scim_user_values_irregular", "workspace_id", "user_id", sqlite_where=text(IRREGULAR_EMAIL["sqlite"]),
              postgresql_where=text(IRREGULAR_EMAIL["postgresql"])),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("scim_users.id", ondelete="CASCADE"))
    workspace_id: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(300))
    elem: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[str | None] = mapped_column(Text)
    value_ci: Mapped[str | None] = mapped_column(Text)
    value_num: Mapped[float | None] = mapped_column(Float)


class ScimGroup(Base):
    __tablename__ = "scim_groups"
    __table_args__ = (
        Index("ix_scim_groups_workspace_name", "workspace_id", "display_name_ci"),
        Index("ix_scim_groups_workspace_external", "workspace_id", "external_id"),
        Index("ix_scim_groups_workspace_created", "workspace_id", "created", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    display_name: Mapped[str] = mapped_column(String(512))
    display_name_ci: Mapped[str] = mapped_column(String(512))
    external_id: Mapped[str | None] = mapped_column(String(512))
    doc: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ScimGroupBump(Base):
    """A version bump of a group that takes no lock on its row (migration 0014): PostgreSQL user
    deletes insert one per group; the group's next own write folds them into its version."""

    __tablename__ = "scim_group_bumps"
    __table_args__ = (Index("ix_scim_group_bumps_group", "group_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("scim_groups.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ScimGroupMember(Base):
    """One member of a group. On SQLite a WITHOUT ROWID table: the rows live in the primary
    key's b-tree, so adding or removing a member writes one b-tree (plus the member index,
    whose entries carry the group id) instead of the table, its key index and the member
    index (https://sqlite.org/withoutrowid.html)."""

    __tablename__ = "scim_group_members"
    __table_args__ = (
        Index("ix_scim_group_members_member", "workspace_id", "member_id"),
        {"sqlite_with_rowid": False},
    )

    group_id: Mapped[str] = mapped_column(
        ForeignKey("scim_groups.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    member_type: Mapped[str] = mapped_column(String(10), default="User")


class AuditCheckpoint(Base):
    """A signed statement (JWS) that the chain of ``workspace_id`` had ``hash`` at ``seq``: what
    lets ``verify`` tell a truncated tail from a short trail (scim_server/audit/checkpoints.py)."""

    __tablename__ = "audit_checkpoints"
    __table_args__ = (Index("ix_audit_checkpoints_workspace_seq", "workspace_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(20))
    jws: Mapped[str] = mapped_column(Text)


class AuditExport(Base):
    """One export of the trail: its signed manifest is stored when the stream ends, so the
    ``Link: rel="manifest"`` sent before the first byte can be fetched afterwards."""

    __tablename__ = "audit_exports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(10))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    manifest: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """Append-only: a database trigger refuses DELETE, and UPDATE except the one that seals a row
    (sets ``seq``, ``prev_hash``, ``hash`` where they were NULL, nothing else). Written in the
    same transaction as the change it records; sealed into its workspace's hash chain just after
    (scim_server/audit/chain.py), so writers never wait on one another for the chain's head."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_workspace_at", "workspace_id", "at"),
        Index("ux_audit_events_workspace_seq", "workspace_id", "seq", unique=True),
        Index("ix_audit_events_unsealed", "workspace_id", "id", sqlite_where=text("seq IS NULL"),
              postgresql_where=text("seq IS NULL")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    target_display: Mapped[str | None] = mapped_column(String(200))
    app_id: Mapped[str | None] = mapped_column(String(40))
    changes: Mapped[str | None] = mapped_column(Text)  # JSON {"field": {"before": ..., "after": ...}}
    seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


from scim_server.notify import tables as notify_tables  # noqa: F401  (registers the notification tables)
from scim_server.store import (
    app_models,  # noqa: F401  (registers the app tables)
    console_models,  # noqa: F401  (registers the console tables)
    feed_models,  # noqa: F401  (registers the directory change feed)
    history_models,  # noqa: F401  (registers the access history tables)
)
