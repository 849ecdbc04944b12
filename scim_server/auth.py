"""Bearer authentication: opaque tokens (hashed at rest) or, optionally, JWTs (python-jose).

A verified opaque token is remembered in memory (for at most ``token_cache_seconds``) so the
hot SCIM path does not query the token table on every request. A revocation still takes effect
at once in the process that revokes (``Authenticator.revoke``) and within
``token_revocation_check_seconds`` in every other: each cached entry keeps the revocation epoch
(``tenancy.revocation_epoch``) read in the same statement as its token, and counts only while
that is the newest epoch the process knows. The process learns a newer epoch from its own
revocations, from every token lookup, and, when it is about to serve a cached entry and its
last look is that old, by reading the epoch: one point query per interval, not per request.
The cache is keyed by the token's hash, never the token. A token created with an expiry is
refused from that instant (wall clock), whether it is cached or read: the entry keeps the expiry.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from jose import JWTError, jwt
from sqlalchemy import Connection

from scim_server.settings import Settings
from scim_server.store import tenancy
from scim_server.store.db import Database


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the workspace every query is confined to, and what they may do."""

    workspace_id: int
    workspace: str
    scopes: frozenset[str]
    actor: str  # the token id (or "jwt:<sub>"); what audit events record as "who"


class AuthenticationFailed(Exception):
    """Missing, malformed, unknown, revoked or expired credentials (401)."""


class ScopeDenied(Exception):
    """Valid credentials without the scope the route needs (403)."""


def _bearer(header: str | None) -> str:
    if not header:
        raise AuthenticationFailed("Missing Authorization header.")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationFailed("Authorization must be 'Bearer <token>'.")
    return value.strip()


@dataclass(frozen=True, slots=True)
class _Cached:
    expires: float  # time.monotonic(): when this cache entry must be read again
    epoch: int  # the revocation epoch read with the token
    principal: Principal
    token_expires: float | None  # time.time() from which the token itself is refused; None: never


# What python-jose verifies with: a JWKS document or a PEM public key.
JwtKeys = dict[str, Any] | str


class Authenticator:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._cache: dict[str, _Cached] = {}
        self._epoch = 0  # the newest revocation epoch seen; entries read at an older one are stale
        self._check_epoch_at = 0.0  # time.monotonic() from which a cache hit reads the epoch first
        self._jwt_keys = _load_jwt_keys(settings)

    async def authenticate(self, header: str | None, scope: str) -> Principal:
        token = _bearer(header)
        principal = await self._principal(token)
        if scope not in principal.scopes:
            raise ScopeDenied(f"This token does not have the '{scope}' scope.")
        return principal

    async def _principal(self, token: str) -> Principal:
        if self._jwt_keys is not None and token.count(".") == 2:
            return await self._jwt_principal(token, self._jwt_keys)
        key, now = tenancy.hash_token(token), time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached.expires > now:
            if now >= self._check_epoch_at:
                self._check_epoch_at = now + self.settings.token_revocation_check_seconds
                self._learn(await self.db.read(tenancy.revocation_epoch))
            if cached.epoch == self._epoch:
                if cached.token_expires is not None and time.time() >= cached.token_expires:
                    self._cache.pop(key, None)
                    raise AuthenticationFailed("The token has expired.")
                return cached.principal
        found = await self.db.read(lambda conn: tenancy.lookup_token_at_epoch(conn, token))
        if found is None:
            self._cache.pop(key, None)
            raise AuthenticationFailed("Unknown or revoked token.")
        record, epoch = found
        self._learn(epoch)
        if record.expired():
            self._cache.pop(key, None)
            raise AuthenticationFailed("The token has expired.")
        principal = Principal(record.workspace_id, record.workspace, frozenset({record.scope}), record.id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        token_expires = record.expires.timestamp() if record.expires is not None else None
        self._cache[key] = _Cached(now + self.settings.token_cache_seconds, epoch, principal, token_expires)
        return principal

    async def revoke(self, token_id: str, workspace_id: int | None = None) -> bool:
        """Revoke an active token (of ``workspace_id``, when given); False when there is none.

        Every request this process authenticates after the call returns refuses the token;
        other processes refuse it within ``token_revocation_check_seconds``. The one way to
        revoke inside a serving process (admin API, console); other processes (the CLI) call
        ``tenancy.revoke_token``, which this wraps. Idempotent: revoking again returns False.
        """
        epoch = await self.db.write(lambda conn: tenancy.revoke_token(conn, token_id, workspace_id))
        if epoch is None:
            return False
        self._learn(epoch)
        return True

    def _learn(self, epoch: int) -> None:
        """A revocation epoch read from the database; a newer one makes every entry stale. Never
        goes back: a lookup that started before a revocation may report the epoch before it."""
        if epoch > self._epoch:
            self._epoch = epoch
            self._cache.clear()

    async def _jwt_principal(self, token: str, keys: JwtKeys) -> Principal:
        try:
            claims = jwt.decode(
                token,
                keys,
                algorithms=self.settings.jwt_algorithms,
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
            )
        except JWTError as exc:
            raise AuthenticationFailed(f"Invalid JWT: {type(exc).__name__}.") from None
        name = self.settings.jwt_workspace or claims.get(self.settings.jwt_workspace_claim)
        if not isinstance(name, str) or not name:
            raise AuthenticationFailed("The JWT names no workspace.")

        def resolve(conn: Connection) -> int:
            return tenancy.workspace_id(conn, name)

        try:
            ws = await self.db.read(resolve)
        except tenancy.UnknownWorkspace:
            raise AuthenticationFailed("The JWT's workspace does not exist.") from None
        return Principal(ws, name, frozenset({"scim"}), f"jwt:{str(claims.get('sub', '?'))[:60]}")


def _load_jwt_keys(settings: Settings) -> JwtKeys | None:
    """JWT validation is on only when an issuer and a key source are configured."""
    if not settings.jwt_issuer:
        return None
    if settings.jwt_jwks_file is not None:
        jwks: dict[str, Any] = json.loads(settings.jwt_jwks_file.read_text())
        return jwks
    if settings.jwt_public_key_file is not None:
        return settings.jwt_public_key_file.read_text()
    return None
