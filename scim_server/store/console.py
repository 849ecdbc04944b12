"""SQL of the web console's sessions and preferences (tables in ``console_models``).

A session is live while it has not ended, was seen within the idle limit, is younger than the
absolute limit and, when it was made from an admin token, that token is still active: the
check is one statement, so revoking the token (API, CLI, console) ends every session made
from it on the next request, in every process.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from scim_server.store.console_models import ConsolePreference, ConsoleSession
from scim_server.store.db import now

__all__ = ["SessionRecord", "create_session", "end_session", "get_preference", "hash_session", "live_session", "now",
           "purge_sessions", "set_flash", "set_preference", "touch_session"]
from scim_server.store.models import ApiToken, Workspace

sessions = ConsoleSession.__table__
preferences = ConsolePreference.__table__
tokens = ApiToken.__table__
workspaces = Workspace.__table__
S, P = ConsoleSession, ConsolePreference  # DML takes the mapped classes (typed); selects the tables


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id_hash: str
    workspace_id: int
    workspace: str
    token_id: str | None
    actor: str
    display: str
    csrf: str
    created: datetime
    last_seen: datetime
    flash: str | None


def hash_session(value: str) -> str:
    """Session values are 256 random bits: SHA-256 is enough, as for API tokens."""
    return hashlib.sha256(value.encode()).hexdigest()


def create_session(conn: Connection, workspace_id: int, token_id: str | None, actor: str, display: str) -> tuple[str, str]:
    """A new session; returns (the cookie value, shown to the browser only, and its CSRF token)."""
    value, csrf, at = secrets.token_urlsafe(32), secrets.token_urlsafe(32), now()
    conn.execute(insert(S).values(id_hash=hash_session(value), workspace_id=workspace_id, token_id=token_id,
                                         actor=actor[:400], display=display[:400], csrf=csrf, created=at,
                                         last_seen=at))  # fmt: skip
    return value, csrf


def _aware(value: datetime) -> datetime:
    """SQLite hands timestamps back naive (they are stored in UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=now().tzinfo)


def live_session(conn: Connection, value: str, idle: timedelta, absolute: timedelta) -> SessionRecord | None:
    """The session for a cookie value if it still counts (see the module docstring), else None."""
    at = now()
    query = (
        select(sessions, workspaces.c.name)
        .join(workspaces, workspaces.c.id == sessions.c.workspace_id)
        .outerjoin(tokens, tokens.c.id == sessions.c.token_id)
        .where(sessions.c.id_hash == hash_session(value), sessions.c.ended.is_(None),
               or_(sessions.c.token_id.is_(None), and_(tokens.c.revoked.is_(None), tokens.c.scope == "admin")))
    )  # fmt: skip
    row = conn.execute(query).first()
    if row is None:
        return None
    created, last_seen = _aware(row.created), _aware(row.last_seen)
    if at - last_seen > idle or at - created > absolute:
        return None
    return SessionRecord(row.id_hash, row.workspace_id, row.name, row.token_id, row.actor, row.display, row.csrf,
                         created, last_seen, row.flash)  # fmt: skip


def touch_session(conn: Connection, id_hash: str) -> None:
    conn.execute(update(S).where(S.id_hash == id_hash).values(last_seen=now()))


def set_flash(conn: Connection, id_hash: str, flash: str | None) -> None:
    conn.execute(update(S).where(S.id_hash == id_hash).values(flash=flash))


def end_session(conn: Connection, id_hash: str) -> None:
    conn.execute(update(S).where(S.id_hash == id_hash, S.ended.is_(None)).values(ended=now()))


def purge_sessions(conn: Connection, older_than: datetime) -> int:
    """Forget sessions created before ``older_than`` (past the absolute limit: dead anyway)."""
    return int(conn.execute(delete(S).where(S.created < older_than)).rowcount or 0)


def get_preference(conn: Connection, workspace_id: int, actor: str, name: str) -> str | None:
    query = select(preferences.c.value).where(preferences.c.workspace_id == workspace_id,
                                              preferences.c.actor == actor, preferences.c.name == name)  # fmt: skip
    found = conn.execute(query).scalar()
    return None if found is None else str(found)


def set_preference(conn: Connection, workspace_id: int, actor: str, name: str, value: str) -> None:
    match = (P.workspace_id == workspace_id, P.actor == actor, P.name == name)
    if conn.execute(update(P).where(*match).values(value=value)).rowcount == 0:
        conn.execute(insert(P).values(workspace_id=workspace_id, actor=actor, name=name, value=value,
                                                created=now()))  # fmt: skip
