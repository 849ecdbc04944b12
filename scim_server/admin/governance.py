"""/api/v1/apps/{app_id}/rules and /api/v1/reports: assignment rules and deprovision reports."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import Field
from sqlalchemy import Connection, delete, insert, select, update
from starlette.requests import Request
from starlette.responses import Response

from scim_server import cursor, reconcile
from scim_server.admin.apps import _app_or_404
from scim_server.admin.common import Body, admin_call, json_response, page, page_params, parse_body
from scim_server.audit.log import append as audit
from scim_server.errors import Conflict, Invalid, NotFound
from scim_server.jobs import queue
from scim_server.store import paging
from scim_server.store.db import iso_utc, new_id, now
from scim_server.store.models import ScimGroup

REPORT_STATUSES = ("pending", "applied")
RULES, REPORTS = "rules", "reports"  # the cursor scopes of GET .../rules and /reports


class AssetGrant(Body):
    asset_id: str = Field(min_length=1)
    permission: str = Field(min_length=1)


class RuleBody(Body):
    group_id: str = Field(min_length=1)
    bridge_role: Literal["owner", "collaborator"] = "collaborator"
    app_role: str | None = Field(None, min_length=1)
    assets: list[AssetGrant] = Field(default_factory=list)


def rule_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "group_id": row.group_id, "bridge_role": row.bridge_role, "app_role": row.app_role,
            "assets": orjson.loads(row.asset_grants), "created": iso_utc(row.created)}  # fmt: skip


async def list_rules(request: Request) -> Response:
    """The app's rules oldest first, paged on (created, id)."""
    call = await admin_call(request)
    app_id = request.path_params["app_id"]
    raw, limit = page_params(request)
    after = cursor.decode_created_id(RULES, raw) if raw else None

    def unit(conn: Connection) -> dict[str, Any]:
        _app_or_404(conn, call.ws, app_id)
        rules = reconcile.rules_t
        query = select(rules).where(rules.c.app_id == app_id)
        rows = list(conn.execute(paging.window(query, (rules.c.created, rules.c.id), after, limit + 1)))
        return page(rows, limit, RULES, lambda r: (r.created, r.id), rule_view)

    return json_response(await call.services.db.read(unit))


async def create_rule(request: Request) -> Response:
    call = await admin_call(request)
    app_id = request.path_params["app_id"]
    body = await parse_body(request, RuleBody)

    def unit(conn: Connection) -> dict[str, Any]:
        app = _app_or_404(conn, call.ws, app_id)
        groups = ScimGroup.__table__
        if conn.execute(select(groups.c.id).where(groups.c.workspace_id == call.ws, groups.c.id == body.group_id)).first() is None:
            raise Invalid(f"No directory group {body.group_id} in this workspace.", code="unknown_group")
        if body.app_role is not None and body.app_role not in reconcile.vocabulary(app.kind).roles:
            raise Invalid(f"app_role must be one of {', '.join(reconcile.vocabulary(app.kind).roles)}.")
        rule_id = new_id()
        grants = [g.model_dump() for g in body.assets]
        conn.execute(insert(reconcile.rules_t).values(id=rule_id, workspace_id=call.ws, app_id=app_id, group_id=body.group_id,
                                                      bridge_role=body.bridge_role, app_role=body.app_role,
                                                      asset_grants=orjson.dumps(grants).decode(), created=now()))  # fmt: skip
        audit(conn, call.ws, call.actor, "app.rule.create", "AssignmentRule", rule_id,
              detail={"app_id": app_id, "group_id": body.group_id, "bridge_role": body.bridge_role,
                      "app_role": body.app_role, "assets": grants})  # fmt: skip
        plan = reconcile.persist(conn, call.ws, reconcile.load(conn, call.ws, app), call.actor)
        row = conn.execute(select(reconcile.rules_t).where(reconcile.rules_t.c.id == rule_id)).first()
        return rule_view(row) | {"jobs": plan["jobs"]}

    out = await call.services.db.write(unit)
    call.services.wake_worker()
    return json_response(out, 201)


async def delete_rule(request: Request) -> Response:
    call = await admin_call(request)
    app_id, rule_id = request.path_params["app_id"], request.path_params["rule_id"]

    def unit(conn: Connection) -> None:
        app = _app_or_404(conn, call.ws, app_id)
        rules = reconcile.rules_t
        if conn.execute(delete(rules).where(rules.c.app_id == app_id, rules.c.id == rule_id)).rowcount == 0:
            raise NotFound(f"Rule {rule_id} not found.")
        audit(conn, call.ws, call.actor, "app.rule.delete", "AssignmentRule", rule_id, detail={"app_id": app_id})
        reconcile.persist(conn, call.ws, reconcile.load(conn, call.ws, app), call.actor)

    await call.services.db.write(unit)
    call.services.wake_worker()
    return Response(status_code=204)


def report_view(conn: Connection, row: Any) -> dict[str, Any]:
    entries = reconcile.entries_t
    items = [{"member_id": e.member_id, "user_id": e.user_id, "reason": e.reason, "status": e.status}
             for e in conn.execute(select(entries).where(entries.c.report_id == row.id).order_by(entries.c.created))]  # fmt: skip
    return {"id": row.id, "app_id": row.app_id, "status": row.status, "held_reason": row.held_reason,
            "job_id": row.job_id, "entries": items, "created": iso_utc(row.created),
            "applied": iso_utc(row.applied)}  # fmt: skip


async def list_reports(request: Request) -> Response:
    """Reports oldest first, paged on (created, id); ``app_id`` and ``status`` filter."""
    call = await admin_call(request)
    app_id, status = request.query_params.get("app_id"), request.query_params.get("status")
    if status is not None and status not in REPORT_STATUSES:
        raise Invalid(f"status must be one of {', '.join(REPORT_STATUSES)}.")
    raw, limit = page_params(request)
    after = cursor.decode_created_id(REPORTS, raw) if raw else None

    def unit(conn: Connection) -> dict[str, Any]:
        reports = reconcile.reports_t
        query = select(reports).where(reports.c.workspace_id == call.ws)
        if app_id is not None:
            query = query.where(reports.c.app_id == app_id)
        if status is not None:
            query = query.where(reports.c.status == status)
        rows = list(conn.execute(paging.window(query, (reports.c.created, reports.c.id), after, limit + 1)))
        return page(rows, limit, REPORTS, lambda r: (r.created, r.id), lambda r: report_view(conn, r))

    return json_response(await call.services.db.read(unit))


async def apply_report(request: Request) -> Response:
    call = await admin_call(request)
    report_id = request.path_params["report_id"]

    def unit(conn: Connection) -> str:
        reports = reconcile.reports_t
        row = conn.execute(select(reports).where(reports.c.workspace_id == call.ws, reports.c.id == report_id)).first()
        if row is None:
            raise NotFound(f"Report {report_id} not found.")
        if row.status != "pending":
            raise Conflict(f"Report {report_id} is already {row.status}.")
        job_id = queue.enqueue(conn, call.ws, "apply_report", {"report_id": report_id}, app_id=row.app_id,
                               dedupe_key=f"{row.app_id}:apply_report:{report_id}", created_by=call.actor)  # fmt: skip
        conn.execute(update(reports).where(reports.c.id == report_id)
                     .values(status="applied", applied=now(), applied_by=call.actor, job_id=job_id))  # fmt: skip
        audit(conn, call.ws, call.actor, "report.apply", "DeprovisionReport", report_id,
              detail={"app_id": row.app_id, "job_id": job_id})  # fmt: skip
        return job_id

    job_id = await call.services.db.write(unit)
    call.services.wake_worker()
    return json_response({"job_id": job_id}, 202)
