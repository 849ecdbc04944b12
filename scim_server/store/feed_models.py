"""Tables of the directory change feed (``store/feed.py``): what SCIM writes changed, and how far
each app's reconciliation has read it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scim_server.store.db import Base

SEQ = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: the rowid itself (AUTOINCREMENT)


class DirectoryChange(Base):
    """One SCIM write that can change an app's plan: the user or the group it wrote."""

    __tablename__ = "directory_changes"
    __table_args__ = (
        Index("ix_directory_changes_ws_seq", "workspace_id", "seq"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(String(36))
    group_id: Mapped[str | None] = mapped_column(String(36))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AppReconcileState(Base):
    """An app's place in the feed (``cursor``: changes up to it are reconciled) and its unsettled
    users (``mapping.incremental.unsettled``, JSON list), which every slice is seeded with."""

    __tablename__ = "app_reconcile_state"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    unsettled: Mapped[str | None] = mapped_column(Text)
