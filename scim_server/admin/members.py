"""/api/v1/apps/{app_id}/...: check, the sets, admin actions on members, invitations, plan, assets.

Every action writes its change, its audit event (who, what, before, after) and what it means
for the app (re-planned by ``reconcile``; app calls queued as jobs) in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import Response

from mapping import ChangeRole, Invite, Remove
from scim_server import cursor, reconcile
from scim_server.admin.apps import _app_or_404
from scim_server.admin.common import (
    AdminCall,
    Body,
    admin_call,
    json_response,
    page,
    page_params,
    parse_body,
)
from scim_server.audit.log import append as audit
from scim_server.errors import Conflict, Invalid, NotFound
from scim_server.jobs import queue
from scim_server.store import members as member_store
from scim_server.store import paging
from scim_server.store.app_models import AppAsset
from scim_server.store.apps import AppRecord
from scim_server.store.db import now
from scim_server.store.models import ScimUser, ScimUserValue

STATES = ("matched", "unmatched", "exempted", "disputed", "removed")
BridgeRole = Literal["owner", "collaborator"]
MEMBERS, ASSETS = "members", "assets"  # the cursor scopes of GET .../members and .../assets


class MatchBody(Body):
    user_id: str = Field(min_length=1)
    bridge_role: BridgeRole = "collaborator"


class ExemptBody(Body):
    reason: str = Field(min_length=1, max_length=2000)


class RolesBody(Body):
    app_role: str | None = Field(None, min_length=1)
    bridge_role: BridgeRole | None = None


class InviteBody(Body):
    user_id: str = Field(min_length=1)
    bridge_role: BridgeRole = "collaborator"
    app_role: str | None = Field(None, min_length=1)


def member_view(row: Any, perms: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "id": row.id, "remote_id": row.remote_id, "email": row.email, "display_name": row.display_name,
        "username": row.username, "app_role": row.app_role, "status": row.status, "state": row.state,
        "user_id": row.user_id, "bridge_role": row.bridge_role, "exempt_reason": row.exempt_reason,
        "managed": row.managed_user_id is not None,
        "assets": [{"asset_id": a, "permission": p} for a, p in perms],
    }  # fmt: skip


def _member_or_404(conn: Connection, app_id: str, member_id: str, *, open_only: bool = True) -> Any:
    row = member_store.get_member(conn, app_id, member_id)
    if row is None or (open_only and row.closed is not None):
        raise NotFound(f"Member {member_id} not found in app {app_id}.")
    return row


def _user_or_400(conn: Connection, ws: int, user_id: str) -> Any:
    users = ScimUser.__table__
    row = conn.execute(select(users).where(users.c.workspace_id == ws, users.c.id == user_id)).first()
    if row is None:
        raise Invalid(f"No directory user {user_id} in this workspace.", code="unknown_user")
    return row


def _replan(conn: Connection, call: AdminCall, app: AppRecord) -> dict[str, Any]:
    return reconcile.persist(conn, call.ws, reconcile.load(conn, call.ws, app), call.actor)


# ``unit_for(conn, call, app, member, body)``: the member is a row, the body the action's model.
MemberAction = Callable[[Connection, AdminCall, AppRecord, Any, Any], tuple[int, dict[str, Any]]]


async def _act(request: Request, unit_for: MemberAction, body_model: type[Body] | None = None) -> Response:
    """Run an admin action on one member: ``unit_for(conn, call, app, member, body)`` inside one
    transaction, with the request body parsed by ``body_model`` first (when the action has one)."""
    call = await admin_call(request)
    app_id, member_id = request.path_params["app_id"], request.path_params["member_id"]
    body = await parse_body(request, body_model) if body_model is not None else None

    def unit(conn: Connection) -> tuple[int, dict[str, Any]]:
        app = _app_or_404(conn, call.ws, app_id)
        member = _member_or_404(conn, app_id, member_id)
        return unit_for(conn, call, app, member, body)

    status, out = await call.services.db.write(unit)
    call.services.wake_worker()
    return json_response(out, status)


async def check(request: Request) -> Response:
    call = await admin_call(request)
    app_id = request.path_params["app_id"]

    def unit(conn: Connection) -> str:
        _app_or_404(conn, call.ws, app_id)
        job_id = queue.enqueue(conn, call.ws, "check", {"reason": "on demand"}, app_id=app_id,
                               dedupe_key=f"{app_id}:check", created_by=call.actor)  # fmt: skip
        audit(conn, call.ws, call.actor, "app.check.request", "App", app_id, detail={"job_id": job_id})
        return job_id

    job_id = await call.services.db.write(unit)
    call.services.wake_worker()
    return json_response({"job_id": job_id}, 202)


async def list_members(request: Request) -> Response:
    call = await admin_call(request)
    app_id = request.path_params["app_id"]
    state = request.query_params.get("state")
    if state is not None and state not in STATES:
        raise Invalid(f"state must be one of {', '.join(STATES)}.")
    raw, limit = page_params(request)
    after = cursor.decode_id(MEMBERS, raw) if raw else None

    def unit(conn: Connection) -> dict[str, Any]:
        _app_or_404(conn, call.ws, app_id)
        rows = member_store.members_page(conn, app_id, state, after, limit + 1)
        perms = member_store.permissions_by_member(conn, app_id) if rows else {}
        return page(rows, limit, MEMBERS, lambda r: (r.id,), lambda r: member_view(r, perms.get(r.remote_id, [])))

    return json_response(await call.services.db.read(unit))


def _do_match(conn: Connection, call: AdminCall, app: AppRecord, member: Any, body: MatchBody) -> tuple[int, dict[str, Any]]:
    _user_or_400(conn, call.ws, body.user_id)
    before = {"user_id": member.user_id, "bridge_role": member.bridge_role, "state": member.state}
    member_store.set_member(conn, member.id, user_id=body.user_id, bridge_role=body.bridge_role,
                            match_source="manual", state="matched")  # fmt: skip
    audit(conn, call.ws, call.actor, "app.member.match", "AppMember", member.id,
          detail={"app_id": app.id, "before": before, "after": {"user_id": body.user_id, "bridge_role": body.bridge_role}})  # fmt: skip
    plan = _replan(conn, call, app)
    return 200, member_view(member_store.get_member(conn, app.id, member.id), []) | {"jobs": plan["jobs"]}



def _do_exempt(conn: Connection, call: AdminCall, app: AppRecord, member: Any, body: ExemptBody) -> tuple[int, dict[str, Any]]:
    member_store.set_member(conn, member.id, exempt_reason=body.reason, exempted_by=call.actor, exempted_at=now(),
                            state="exempted")  # fmt: skip
    audit(conn, call.ws, call.actor, "app.member.exempt", "AppMember", member.id,
          detail={"app_id": app.id, "before": {"state": member.state}, "after": {"state": "exempted", "reason": body.reason}})  # fmt: skip
    _replan(conn, call, app)
    return 200, member_view(member_store.get_member(conn, app.id, member.id), [])



def _do_unexempt(conn: Connection, call: AdminCall, app: AppRecord, member: Any, body: None) -> tuple[int, dict[str, Any]]:
    if member.exempt_reason is None:
        raise Conflict("This member is not exempted.")
    member_store.set_member(conn, member.id, exempt_reason=None, exempted_by=None, exempted_at=None)
    audit(conn, call.ws, call.actor, "app.member.unexempt", "AppMember", member.id,
          detail={"app_id": app.id, "before": {"state": "exempted", "reason": member.exempt_reason}})  # fmt: skip
    _replan(conn, call, app)
    return 200, member_view(member_store.get_member(conn, app.id, member.id), [])


def _do_remove(conn: Connection, call: AdminCall, app: AppRecord, member: Any, body: None) -> tuple[int, dict[str, Any]]:
    if member.exempt_reason is not None:
        raise Conflict("Exempted members are never removed; unexempt it first.")
    assets = tuple(sorted(a for a, _ in member_store.permissions_by_member(conn, app.id).get(member.remote_id, [])))
    action = Remove(member.id, member.remote_id, member.user_id, assets, "admin")
    job_id = queue.enqueue(conn, call.ws, "remove", reconcile.action_payload(action), app_id=app.id,
                           dedupe_key=":".join((app.id, *action.key)), created_by=call.actor)  # fmt: skip
    audit(conn, call.ws, call.actor, "app.member.remove.request", "AppMember", member.id,
          detail={"app_id": app.id, "job_id": job_id, "revokes": list(assets)})  # fmt: skip
    return 202, {"job_id": job_id}


def _do_roles(conn: Connection, call: AdminCall, app: AppRecord, member: Any, body: RolesBody) -> tuple[int, dict[str, Any]]:
    out: dict[str, Any] = {}
    if body.app_role is not None and body.app_role != member.app_role:
        known = reconcile.vocabulary(app.kind).roles
        if body.app_role not in known:
            raise Invalid(f"app_role must be one of {', '.join(known)}.")
        action = ChangeRole(member.id, member.remote_id, member.app_role or "", body.app_role)
        out["job_id"] = queue.enqueue(conn, call.ws, "change_role", reconcile.action_payload(action), app_id=app.id,
                                      dedupe_key=":".join((app.id, *action.key)), created_by=call.actor)  # fmt: skip
    if body.bridge_role is not None and body.bridge_role != member.bridge_role:
        if member.user_id is None:
            raise Conflict("Only a matched member has a bridge role; match it first.")
        member_store.set_member(conn, member.id, bridge_role=body.bridge_role)
    audit(conn, call.ws, call.actor, "app.member.roles", "AppMember", member.id,
          detail={"app_id": app.id, "before": {"app_role": member.app_role, "bridge_role": member.bridge_role},
                  "after": body.model_dump(exclude_none=True)})  # fmt: skip
    view = member_view(member_store.get_member(conn, app.id, member.id), [])
    return (202 if "job_id" in out else 200), view | out



async def match(request: Request) -> Response:
    return await _act(request, _do_match, MatchBody)


async def exempt(request: Request) -> Response:
    return await _act(request, _do_exempt, ExemptBody)


async def unexempt(request: Request) -> Response:
    return await _act(request, _do_unexempt)


async def remove(request: Request) -> Response:
    return await _act(request, _do_remove)


async def change_roles(request: Request) -> Response:
    return await _act(request, _do_roles, RolesBody)


def _email_of(conn: Connection, ws: int, user: Any) -> str:
    values = ScimUserValue.__table__
    emails: list[str] = [v for (v,) in conn.execute(select(values.c.value).where(values.c.user_id == user.id,
                                                                                  values.c.path == "emails.value"))]  # fmt: skip
    address: str = emails[0] if emails else user.user_name
    return address


async def invite(request: Request) -> Response:
    call = await admin_call(request)
    app_id = request.path_params["app_id"]
    body = await parse_body(request, InviteBody)

    def unit(conn: Connection) -> str:
        app = _app_or_404(conn, call.ws, app_id)
        user = _user_or_400(conn, call.ws, body.user_id)
        if not user.active:
            raise Conflict("A deactivated user cannot be invited.")
        vocab = reconcile.vocabulary(app.kind)
        role = body.app_role or vocab.default_app_role(body.bridge_role)
        if role not in vocab.roles:
            raise Invalid(f"app_role must be one of {', '.join(vocab.roles)}.")
        action = Invite(user.id, _email_of(conn, call.ws, user), role, body.bridge_role)
        job_id = queue.enqueue(conn, call.ws, "invite", reconcile.action_payload(action), app_id=app.id,
                               dedupe_key=":".join((app.id, *action.key)), created_by=call.actor)  # fmt: skip
        audit(conn, call.ws, call.actor, "app.member.invite.request", "App", app.id,
              detail={"user_id": user.id, "app_role": role, "bridge_role": body.bridge_role, "job_id": job_id})  # fmt: skip
        return job_id

    job_id = await call.services.db.write(unit)
    call.services.wake_worker()
    return json_response({"job_id": job_id}, 202)


async def plan(request: Request) -> Response:
    call = await admin_call(request)
    app_id = request.path_params["app_id"]

    def unit(conn: Connection) -> dict[str, Any]:
        app = _app_or_404(conn, call.ws, app_id)
        loaded = reconcile.load(conn, call.ws, app)
        return {"actions": reconcile.plan_view(loaded.result), **reconcile.summary(loaded.result)}

    return json_response(await call.services.db.read(unit))


async def assets(request: Request) -> Response:
    """The app's assets ordered by asset id, paged on it, each with every member's permission."""
    call = await admin_call(request)
    app_id = request.path_params["app_id"]
    raw, limit = page_params(request)
    after = cursor.decode_id(ASSETS, raw) if raw else None

    def unit(conn: Connection) -> dict[str, Any]:
        _app_or_404(conn, call.ws, app_id)
        table = AppAsset.__table__
        query = select(table).where(table.c.app_id == app_id)
        rows = list(conn.execute(paging.window(query, (table.c.asset_id,), None if after is None else (after,), limit + 1)))
        grants: dict[str, list[dict[str, str]]] = {}
        for remote_id, perms in (member_store.permissions_by_member(conn, app_id) if rows else {}).items():
            for asset_id, permission in perms:
                grants.setdefault(asset_id, []).append({"remote_id": remote_id, "permission": permission})
        return page(rows, limit, ASSETS, lambda r: (r.asset_id,),
                    lambda r: {"id": r.asset_id, "name": r.name, "type": r.type, "permissions": grants.get(r.asset_id, [])})  # fmt: skip

    return json_response(await call.services.db.read(unit))
