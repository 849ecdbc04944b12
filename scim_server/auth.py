"""Bearer authentication: opaque tokens (hashed at rest) or, optionally, JWTs (python-jose).

A verified opaque token is remembered in memory for ``token_cache_seconds`` so the hot SCIM
path does not query the token table on every request; a revocation therefore takes effect
within that many seconds. The cache is keyed by the token's hash, never the token.
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


class Authenticator:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._jwt_keys = _load_jwt_keys(settings)

    async def authenticate(self, header: str | None, scope: str) -> Principal:
        token = _bearer(header)
        principal = await self._principal(token)
        if scope not in principal.scopes:
            raise ScopeDenied(f"This token does not have the '{scope}' scope.")
        return principal

    async def _principal(self, token: str) -> Principal:
        if self._jwt_keys is not None and token.count(".") == 2:
            return await self._jwt_principal(token)
        key = tenancy.hash_token(token)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        record = await self.db.read(lambda conn: tenancy.lookup_token(conn, token))
        if record is None:
            self._cache.pop(key, None)
            raise AuthenticationFailed("Unknown or revoked token.")
        principal = Principal(record.workspace_id, record.workspace, frozenset({record.scope}), record.id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + self.settings.token_cache_seconds, principal)
        return principal

    async def _jwt_principal(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._jwt_keys,
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


def _load_jwt_keys(settings: Settings) -> Any | None:
    """JWT validation is on only when an issuer and a key source are configured."""
    if not settings.jwt_issuer:
        return None
    if settings.jwt_jwks_file is not None:
        return json.loads(settings.jwt_jwks_file.read_text())
    if settings.jwt_public_key_file is not None:
        return settings.jwt_public_key_file.read_text()
    return None
