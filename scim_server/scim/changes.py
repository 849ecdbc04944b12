"""What every SCIM write records in its own transaction: the audit event, and the outbox
entry that makes the change reach the connected apps (deprovisioning among it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from scim_server.audit.log import append as audit
from scim_server.scim.context import ScimCall
from scim_server.store.outbox import affects_apps, directory_changed


def record(conn: Connection, call: ScimCall, action: str, target_type: str, target_id: str | None,
           detail: dict[str, Any] | None = None, *, changes: dict[str, Any] | None = None) -> None:  # fmt: skip
    audit(conn, call.ws, call.principal.actor, action, target_type, target_id, detail=detail, changes=changes)
    if affects_apps(action, detail):
        directory_changed(conn, call.ws, call.principal.actor, action, call.services.settings.outbox_debounce_seconds,
                          user_id=target_id if target_type == "User" else None,
                          group_id=target_id if target_type == "Group" else None)  # fmt: skip


_NEVER_RECORDED = frozenset({"password"})  # its change is a fact in ``detail``; its value, never


def before_after(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any] | None:
    """The top-level attributes a write changed, each ``{"before", "after"}``, for the trail (the
    password never; other secrets are removed by ``audit.log.redact``)."""
    keys = sorted(k for k in set(before) | set(after) if k not in _NEVER_RECORDED and before.get(k) != after.get(k))
    return {k: {"before": before.get(k), "after": after.get(k)} for k in keys} or None
