"""Deprovision reports: list, read, and apply with a decision per entry (remove, keep as exempted
with a reason, skip). Applying commits the decisions, the exemptions, the removal job and the audit
event together; the job then records each entry's outcome and the report settles from them."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection

from scim_server import reconcile
from scim_server.audit.log import append as audit
from scim_server.auth import Principal
from scim_server.jobs import queue
from scim_server.services import Services
from scim_server.services.errors import Conflict, Invalid
from scim_server.services.paging import PageRequest, page_of
from scim_server.services.schemas import ApplyReport
from scim_server.store import apps as app_store
from scim_server.store import members as member_store
from scim_server.store import people
from scim_server.store import reports as store
from scim_server.store.db import iso_utc, now

STATUSES = ("pending", "applying", "applied", "failed")
SCOPE = "reports"


def entry_view(row: Any, users: dict[str, Any]) -> dict[str, Any]:
    user = users.get(row.user_id or "")
    return {
        "id": row.id, "member_id": row.member_id, "email": row.email, "display_name": row.display_name,
        "app_role": row.app_role, "assets": orjson.loads(row.assets) if row.assets else [],
        "user": {"id": row.user_id, "user_name": user.user_name if user else None,
                 "display_name": user.display_name if user else None, "active": bool(user.active) if user else False,
                 "deleted": user is None},
        "user_id": row.user_id, "reason": row.reason, "status": row.status, "decision": row.decision,
        "decision_reason": row.decision_reason, "decided_by": row.decided_by, "decided_at": iso_utc(row.decided_at),
        "error": row.error, "updated": iso_utc(row.updated),
    }  # fmt: skip


def _views(conn: Connection, ws: int, rows: list[Any]) -> list[dict[str, Any]]:
    entries = store.entries_of(conn, [r.id for r in rows])
    user_ids = sorted({e.user_id for es in entries.values() for e in es if e.user_id})
    users = {uid: u for uid in user_ids if (u := people.get_user(conn, ws, uid)) is not None}
    return [{"id": r.id, "app_id": r.app_id, "status": r.status, "held_reason": r.held_reason, "job_id": r.job_id,
             "applied_by": r.applied_by, "entries": [entry_view(e, users) for e in entries[r.id]],
             "created": iso_utc(r.created), "applied": iso_utc(r.applied)} for r in rows]  # fmt: skip


async def list_reports(svc: Services, who: Principal, app_id: str | None, status: str | None,
                       page: PageRequest) -> dict[str, Any]:  # fmt: skip
    """Reports oldest first, paged on (created, id)."""
    if status is not None and status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}.", field="status")
    after = page.after_created_id(SCOPE)

    def unit(conn: Connection) -> dict[str, Any]:
        rows = store.list_reports(conn, who.workspace_id, app_id, status, after, page.fetch)
        views = {v["id"]: v for v in _views(conn, who.workspace_id, rows[: page.limit])}
        return page_of(rows, page.limit, SCOPE, lambda r: (r.created, r.id), lambda r: views[r.id])

    return await svc.db.read(unit)


async def get_report(svc: Services, who: Principal, report_id: str) -> dict[str, Any]:
    def unit(conn: Connection) -> dict[str, Any]:
        return _views(conn, who.workspace_id, [store.get_report(conn, who.workspace_id, report_id)])[0]

    return await svc.db.read(unit)


async def apply_report(svc: Services, who: Principal, report_id: str, body: ApplyReport) -> dict[str, Any]:
    """Apply a pending report: entries without a decision are removed."""

    def unit(conn: Connection) -> dict[str, Any]:
        report = store.get_report(conn, who.workspace_id, report_id, for_update=True)
        if report.status != "pending":
            raise Conflict(f"Report {report_id} is already {report.status}.", code="report_not_pending")
        app = app_store.get_app(conn, who.workspace_id, report.app_id)
        open_entries = {e.id: e for e in store.entries_of(conn, [report_id])[report_id] if e.status in store.OPEN}
        decisions = {d.entry_id: d for d in body.decisions}
        for i, d in enumerate(body.decisions):
            if d.entry_id not in open_entries:
                raise Invalid(f"Entry {d.entry_id} is not an open entry of this report.", field=f"decisions.{i}.entry_id")
            if d.decision == "exempt" and not d.reason:
                raise Invalid("Keeping access needs a reason.", field=f"decisions.{i}.reason")
        removing = 0
        for entry in open_entries.values():
            decided = decisions.get(entry.id)
            choice = decided.decision if decided is not None else "remove"
            reason = decided.reason if decided is not None else None
            if choice == "exempt":
                _exempt(conn, who, app.id, entry, reason or "")
            removing += choice == "remove"
            status = {"remove": entry.status, "exempt": "exempted", "skip": "skipped"}[choice]
            store.decide(conn, entry.id, choice, reason, who.actor, status)
        job_id = None
        if removing:
            job_id = queue.enqueue(conn, who.workspace_id, "apply_report", {"report_id": report_id}, app_id=app.id,
                                   dedupe_key=f"{app.id}:apply_report:{report_id}", created_by=who.actor)  # fmt: skip
        store.start_applying(conn, report_id, job_id, who.actor)
        audit(conn, who.workspace_id, who.actor, "report.apply", "DeprovisionReport", report_id,
              detail={"app_id": app.id, "job_id": job_id,
                      "decisions": {e: (decisions[e].decision if e in decisions else "remove") for e in open_entries}})  # fmt: skip
        reconcile.persist(conn, who.workspace_id, reconcile.load(conn, who.workspace_id, app), who.actor)
        return {"job_id": job_id, "report": _views(conn, who.workspace_id, [store.get_report(conn, who.workspace_id, report_id)])[0]}

    out = await svc.db.write(unit)
    svc.wake_worker()
    return out


def _exempt(conn: Connection, who: Principal, app_id: str, entry: Any, reason: str) -> None:
    """Keep the member's access: exempt it (an admin's decision on the report)."""
    member_store.set_member(conn, entry.member_id, exempt_reason=reason, exempted_by=who.actor, exempted_at=now(),
                            state="exempted")  # fmt: skip
    audit(conn, who.workspace_id, who.actor, "app.member.exempt", "AppMember", entry.member_id,
          detail={"app_id": app_id, "email": entry.email, "after": {"state": "exempted", "reason": reason},
                  "report_entry": entry.id})  # fmt: skip
