"""The audit trail: one row per change, appended in the same transaction as the change.

``append`` only inserts: the row's place in its workspace's hash chain (``seq``, ``prev_hash``,
``hash``) is given just after commit by ``chain.seal``, so concurrent writers never wait on one
another for the chain's head (a per-workspace head row locked by every writer would serialise
all SCIM traffic of a workspace). Reads, verification and exports seal first.

Whatever a caller passes as ``detail`` or ``changes`` goes through ``redact``: a value under a
key that names a secret (password, token, credential, key, ...) and any string that looks like
one of our bearer tokens is replaced by ``"[redacted]"``, whatever the nesting. Callers should
still whitelist what they record (ids, names, changed attribute names); this is the backstop.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from sqlalchemy import Connection

from scim_server.store import fastsql
from scim_server.store.db import now
from scim_server.store.models import AuditEvent

audit_events = AuditEvent.__table__

REDACTED = "[redacted]"
OUTCOMES = ("success", "failure", "denied")

# Keys whose values are secrets, in any spelling (``clientSecret``, ``api-key``, ``x_password``).
_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|credential|api.?key|private.?key|signing.?key|authori[sz]ation"
    r"|cookie|session|otp|pin$|^key$|bearer|refresh|jwt|fernet",
    re.IGNORECASE,
)
# Keys that name a secret's *identifier*, not the secret: kept (``token_id`` is who acted).
_IDENTIFIER_KEY = re.compile(r"(^|_|-)id$|Id$|_ids?$|^scope$", re.IGNORECASE)
# Values that are secrets whatever their key: our bearer tokens, JWTs, PEM keys, Basic/Bearer headers.
_SECRET_VALUE = re.compile(
    r"sbt_[A-Za-z0-9_-]{8,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|(?i:\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,})"
)
_MAX_TEXT = 2000  # a recorded value longer than this is cut: the trail holds facts, not documents


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key)) and not _IDENTIFIER_KEY.search(key)


def redact(value: Any, *, secret: bool = False) -> Any:
    """``value`` with every secret replaced by ``REDACTED`` (a copy; the input is not changed)."""
    if secret:
        return REDACTED if value not in (None, "", [], {}) else value
    if isinstance(value, dict):
        return {str(k): redact(v, secret=is_secret_key(str(k))) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        if _SECRET_VALUE.search(value):
            return REDACTED
        return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + "…"
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value))


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """``{"field": {"before": b, "after": a}}`` for each top-level field that differs."""
    before, after = before or {}, after or {}
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after), key=str)
        if before.get(key) != after.get(key)
    }


def _json(value: dict[str, Any] | None) -> str | None:
    return orjson.dumps(redact(value), option=orjson.OPT_SORT_KEYS).decode() if value else None


def _app_of(app_id: str | None, target_type: str, target_id: str | None, detail: dict[str, Any] | None) -> str | None:
    """The app an event is about: events on an app, its members, rules and reports name it as
    their target or in their detail, and the trail's app filter must find them all."""
    if app_id is not None:
        return app_id
    if target_type == "App" and target_id is not None:
        return str(target_id)
    named = (detail or {}).get("app_id")
    return named if isinstance(named, str) else None


def append(
    conn: Connection,
    workspace_id: int,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | None,
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
    *,
    target_display: str | None = None,
    app_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """Record one event in ``conn``'s transaction (it commits or rolls back with the change).

    ``changes`` is ``{"field": {"before": ..., "after": ...}}``; or pass ``before``/``after``
    (the fields a change touched) and the differing ones are recorded. Secrets are removed.
    The event's app (what the trail is filtered by) is ``app_id``, else the target when it is
    an app, else the ``app_id`` its detail names (``_app_of``).
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    if changes is None and (before is not None or after is not None):
        changes = diff(before, after)
    row = {
        "workspace_id": workspace_id,
        "at": fastsql.ts_in(conn.dialect.name, now()),
        "actor": actor[:100],
        "action": action[:60],
        "target_type": target_type[:40],
        "target_id": None if target_id is None else str(target_id)[:100],
        "outcome": outcome,
        "detail": _json(detail),
        "target_display": None if target_display is None else redact(str(target_display))[:200],
        "app_id": _app_of(app_id, target_type, target_id, detail),
        "changes": _json(changes),
    }
    fastsql.defer(conn, fastsql.INSERT_AUDIT, row)  # with the change's next round trip (PostgreSQL)
