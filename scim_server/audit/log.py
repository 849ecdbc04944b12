"""The audit trail: one row per change, appended in the same transaction as the change.

Details are whitelisted by the callers (ids, names, changed attribute names): never a
password, a token or an automation-account secret.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection

from scim_server.store import fastsql
from scim_server.store.db import now
from scim_server.store.models import AuditEvent

audit_events = AuditEvent.__table__


def append(
    conn: Connection,
    workspace_id: int,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | None,
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
) -> None:
    row = {
        "workspace_id": workspace_id,
        "at": fastsql.ts_in(conn.dialect.name, now()),
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "outcome": outcome,
        "detail": orjson.dumps(detail).decode() if detail else None,
    }
    fastsql.execute(conn, fastsql.INSERT_AUDIT, row)
