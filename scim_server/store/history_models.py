"""Append-only history of app access: every change of a member's state and of a permission, as
it became after the change, written by database triggers (migration 0012) in the transaction
of the change itself.

Triggers rather than calls in the services make the history complete by construction: an
import, a match, an exemption, a removal, a job's re-read or a hand-written UPDATE all pass
through the same rows, so no code path can change access without leaving its trace. The
point-in-time access report (``scim_server/audit/history.py``) replays it.

``at`` is the database clock when the row changed: microseconds on PostgreSQL
(``clock_timestamp()``), milliseconds on SQLite (``strftime('%f')``). Rows of one key are
ordered by ``id``, so two changes in one clock tick still replay in their order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scim_server.store.db import Base

_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


class MemberHistory(Base):
    """A member's access-relevant columns after one change (insert, or an update that changed
    any of them; an import that only refreshes ``last_seen`` writes nothing)."""

    __tablename__ = "member_history"
    __table_args__ = (Index("ix_member_history_app_member", "app_id", "member_id", "id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    workspace_id: Mapped[int] = mapped_column(Integer)
    app_id: Mapped[str] = mapped_column(String(36))
    member_id: Mapped[str] = mapped_column(String(36))
    remote_id: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    username: Mapped[str | None] = mapped_column(String(300))
    display_name: Mapped[str | None] = mapped_column(String(300))
    app_role: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(20))
    state: Mapped[str | None] = mapped_column(String(20))
    user_id: Mapped[str | None] = mapped_column(String(36))
    bridge_role: Mapped[str | None] = mapped_column(String(20))
    match_source: Mapped[str | None] = mapped_column(String(20))
    exempt_reason: Mapped[str | None] = mapped_column(Text)
    exempted_by: Mapped[str | None] = mapped_column(String(100))
    exempted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PermissionHistory(Base):
    """One asset permission of one account after a change; ``permission`` NULL: revoked."""

    __tablename__ = "permission_history"
    __table_args__ = (Index("ix_permission_history_app_remote", "app_id", "remote_id", "id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    workspace_id: Mapped[int] = mapped_column(Integer)
    app_id: Mapped[str] = mapped_column(String(36))
    asset_id: Mapped[str] = mapped_column(String(200))
    remote_id: Mapped[str] = mapped_column(String(300))
    permission: Mapped[str | None] = mapped_column(String(100))


class AuditRetention(Base):
    """How long a workspace keeps its audit events (``days`` None: for ever); expiry signs a
    ``retention`` checkpoint that becomes the chain's start (scim_server/audit/retention.py)."""

    __tablename__ = "audit_retention"

    workspace_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    days: Mapped[int | None] = mapped_column(Integer)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str | None] = mapped_column(String(100))
