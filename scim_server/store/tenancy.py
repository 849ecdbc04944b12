"""Workspaces and API tokens.

Revoking a token bumps ``token_epoch`` in the same transaction, so a snapshot that sees the
new epoch also sees the revocation: a process that caches verified tokens compares the epoch
(read with each lookup, and on its own now and then) with the one its entries were read at.

A token may carry an expiry (``expires``, UTC); lookups return it and the authenticator refuses
the token from that instant, cached or not. Expiry needs no epoch bump: it is known in advance.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from scim_server.store import fastsql
from scim_server.store.db import now
from scim_server.store.models import ApiToken, TokenEpoch, Workspace

workspaces = Workspace.__table__
tokens = ApiToken.__table__

SCOPES = ("scim", "admin", "audit")
TOKEN_PREFIX = "sbt_"


class UnknownWorkspace(LookupError):
    """No workspace has that name."""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    workspace_id: int
    workspace: str
    scope: str
    label: str | None
    created: datetime
    revoked: datetime | None
    expires: datetime | None = None  # aware, UTC; None: never

    def expired(self, at: datetime | None = None) -> bool:
        return self.expires is not None and self.expires <= (at or now())


def hash_token(token: str) -> str:
    """SHA-256 is enough: tokens are 256 bits of randomness, so no slow KDF is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_workspace(conn: Connection, name: str) -> int:
    found = conn.execute(select(workspaces.c.id).where(workspaces.c.name == name)).scalar()
    if found is not None:
        return int(found)
    return int(conn.execute(insert(workspaces).values(name=name, created=now()).returning(workspaces.c.id)).scalar_one())


def create_workspace_if_absent(conn: Connection, name: str) -> int | None:
    """The new workspace's id, or None when ``name`` already exists (``serve`` mints its first
    tokens only for a workspace it creates, never on a restart). ``ON CONFLICT DO NOTHING``: of
    several processes starting together on a new database, one creates it and the others see None."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (dialect_insert(workspaces).values(name=name, created=now())
                 .on_conflict_do_nothing(index_elements=[workspaces.c.name]).returning(workspaces.c.id))  # fmt: skip
    created = conn.execute(statement).scalar()
    return int(created) if created is not None else None


def workspace_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(workspaces.c.id).where(workspaces.c.name == name)).scalar()
    if found is None:
        raise UnknownWorkspace(name)
    return int(found)


def create_token(conn: Connection, workspace: str, scope: str, label: str | None = None,
                 expires: datetime | None = None) -> tuple[str, str]:  # fmt: skip
    """Create a token (valid until ``expires``, an aware datetime, when given); returns (token id,
    the token). The token itself is never stored."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    if expires is not None and expires.tzinfo is None:
        raise ValueError("expires must be timezone-aware")
    ws = ensure_workspace(conn, workspace)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = "tok_" + secrets.token_hex(8)
    conn.execute(
        insert(tokens).values(
            id=token_id, workspace_id=ws, scope=scope, token_hash=hash_token(token), label=label, created=now(),
            expires=expires.astimezone(UTC) if expires is not None else None,
        )
    )
    return token_id, token


def lookup_token(conn: Connection, token: str) -> TokenRecord | None:
    """The live (neither revoked nor expired) token record for a presented token, or None."""
    found = lookup_token_at_epoch(conn, token)
    return found[0] if found is not None and not found[0].expired() else None


def lookup_token_at_epoch(conn: Connection, token: str) -> tuple[TokenRecord, int] | None:
    """The not revoked token and the revocation epoch, read in the same statement (one snapshot):
    what a cache of verified tokens needs to tell whether a later revocation made it stale. An
    expired token is returned too (``TokenRecord.expired()``), so the caller can say why it refuses."""
    row = fastsql.fetchone(conn, fastsql.TOKEN_BY_HASH, {"h": hash_token(token)})
    if row is None:
        return None
    token_id, ws, name, scope, label, created, revoked, expires, epoch = row
    record = TokenRecord(token_id, ws, name, scope, label, _created(created), _datetime(revoked), _aware(expires))
    return record, int(epoch)


def revocation_epoch(conn: Connection) -> int:
    """How many revocations there have been; it only grows (0 on a database without the row)."""
    row = fastsql.fetchone(conn, fastsql.REVOCATION_EPOCH, {})
    return int(row[0]) if row is not None else 0


def _datetime(value: object) -> datetime | None:
    """A timestamp as SQLAlchemy returns it (SQLite text parsed, naive; PostgreSQL aware)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    if value is None or isinstance(value, datetime):
        return value
    raise TypeError(f"not a timestamp: {type(value).__name__}")


def _created(value: object) -> datetime:
    """A NOT NULL timestamp column (``created``), read as ``_datetime`` does."""
    stamp = _datetime(value)
    if stamp is None:
        raise TypeError("a NOT NULL timestamp read as NULL")
    return stamp


def _aware(value: object) -> datetime | None:
    """A stored UTC timestamp as an aware datetime (SQLite gives it back naive, or as text)."""
    parsed = _datetime(value)
    return parsed.replace(tzinfo=UTC) if parsed is not None and parsed.tzinfo is None else parsed


def list_tokens(conn: Connection, workspace: str | None = None) -> list[TokenRecord]:
    query = select(tokens, workspaces.c.name).join(workspaces, workspaces.c.id == tokens.c.workspace_id)
    if workspace is not None:
        query = query.where(workspaces.c.name == workspace)
    return [_record(row) for row in conn.execute(query.order_by(tokens.c.created))]


def revoke_token(conn: Connection, token_id: str, workspace_id: int | None = None) -> int | None:
    """Revoke an active token (of ``workspace_id``, when given) and bump the revocation epoch.

    Returns the new epoch, or None when there is no such active token (nothing changes: revoking
    twice is harmless). Callers that cache tokens use ``auth.Authenticator.revoke``.
    """
    match = [tokens.c.id == token_id, tokens.c.revoked.is_(None)]
    if workspace_id is not None:
        match.append(tokens.c.workspace_id == workspace_id)
    if conn.execute(update(tokens).where(*match).values(revoked=now())).rowcount == 0:
        return None
    bump = update(TokenEpoch).values(epoch=TokenEpoch.epoch + 1).returning(TokenEpoch.epoch)
    bumped = conn.execute(bump).scalar()
    if bumped is None:  # a schema made without migration 0004's row (create_all)
        conn.execute(insert(TokenEpoch).values(id=1, epoch=1))
        return 1
    return int(bumped)


def _record(row: object) -> TokenRecord:
    return TokenRecord(
        id=row.id,  # type: ignore[attr-defined]
        workspace_id=row.workspace_id,  # type: ignore[attr-defined]
        workspace=row.name,  # type: ignore[attr-defined]
        scope=row.scope,  # type: ignore[attr-defined]
        label=row.label,  # type: ignore[attr-defined]
        created=row.created,  # type: ignore[attr-defined]
        revoked=row.revoked,  # type: ignore[attr-defined]
        expires=_aware(row.expires),  # type: ignore[attr-defined]
    )
