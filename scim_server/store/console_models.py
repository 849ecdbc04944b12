"""Tables of the web console: signed-in sessions and per-admin preferences.

A session row is the server side of the console's cookie: only the SHA-256 of the cookie value
is kept (like API tokens), so a database dump signs nobody in. A session made from an admin
token names that token, and stops counting the moment the token is revoked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from scim_server.store.db import Base


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    token_id: Mapped[str | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(400))  # what audit events record: the token id or "oidc:<email>"
    display: Mapped[str] = mapped_column(String(400))  # who is signed in, as the page shows it
    csrf: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    flash: Mapped[str | None] = mapped_column(String(2000))  # the message box of the next page (JSON)


class ConsolePreference(Base):
    """A remembered choice of one admin (e.g. "Don't show this again" on Connect your apps)."""

    __tablename__ = "console_preferences"

    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    actor: Mapped[str] = mapped_column(String(400), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(400))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
