"""Members of an app and what admins do to them: check for updates, the sets, match, re-assign,
exempt, unexempt, remove, change role, invite; the plan and the assets.

Each write validates (the member is open, not the automation identity, the kind can do it), writes,
appends its audit event, re-plans what it can affect (the slice of that member and its users:
``incremental.reconcile_members``) and queues its jobs in one transaction; the worker is woken
after the commit. Remove and change role only queue their job (the job's outcome is verified by
the next check); rule changes re-plan the whole app (``services/rules.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import orjson
from sqlalchemy import Connection

from connectors.registry import get_spec
from mapping import ChangeRole, Invite, Remove
from mapping.capabilities import Capability, can
from scim_server import cursor, incremental, reconcile
from scim_server.audit.log import append as audit
from scim_server.auth import Principal
from scim_server.jobs import queue
from scim_server.services import Services
from scim_server.services.errors import Conflict, Invalid, NotFound, Unprocessable
from scim_server.services.paging import PageRequest, page_of
from scim_server.services.schemas import ExemptBody, InviteBody, MatchBody, RolesBody
from scim_server.store import apps as app_store
from scim_server.store import members as member_store
from scim_server.store import people
from scim_server.store.apps import AppRecord
from scim_server.store.db import now

STATES = ("matched", "unmatched", "exempted", "disputed", "removed")
MEMBERS, ASSETS = "members", "assets"  # cursor scopes
T = TypeVar("T")
AUTOMATION = "automation"  # match_source of the automation account's own member


def member_view(row: Any, perms: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "id": row.id, "remote_id": row.remote_id, "email": row.email, "display_name": row.display_name,
        "username": row.username, "app_role": row.app_role, "status": row.status, "state": row.state,
        "user_id": row.user_id, "bridge_role": row.bridge_role, "match_source": row.match_source,
        "automation": row.match_source == AUTOMATION, "exempt_reason": row.exempt_reason,
        "exempted_by": row.exempted_by, "managed": row.managed_user_id is not None,
        "conflicts": orjson.loads(row.conflicts) if row.conflicts else [],
        "assets": [{"asset_id": a, "permission": p} for a, p in perms],
    }  # fmt: skip


def _require(app: AppRecord, capability: Capability, what: str) -> None:
    """Refuse up front what the app's kind cannot do (mapping.capabilities is the one table)."""
    if not can(app.kind, capability):
        raise Unprocessable(f"{get_spec(app.kind).name} cannot {what}; do it in the app.", code="unsupported")


def _member(conn: Connection, app: AppRecord, member_id: str, doing: str) -> Any:
    """The member, still in the app: a removed one is a 409 saying so, an unknown one a 404."""
    row = member_store.get_member(conn, app.id, member_id)
    if row is None:
        raise NotFound(f"Member {member_id} not found in app {app.id}.")
    if row.closed is not None:
        raise Conflict(f"{_who(row)} was removed from the app; it cannot be {doing}.", code="member_removed")
    return row


def _not_automation(row: Any, doing: str) -> None:
    if row.match_source == AUTOMATION:
        raise Conflict(f"{_who(row)} is the app's automation account; it cannot be {doing} "
                       "(scim-bridge would lose its access to the app).", code="automation_account")  # fmt: skip


def _who(row: Any) -> str:
    return str(row.email or row.username or row.display_name or row.remote_id)


def _directory_user(conn: Connection, ws: int, user_id: str) -> Any:
    user = people.get_user(conn, ws, user_id)
    if user is None:
        raise Invalid(f"No directory user {user_id} in this workspace.", code="unknown_user", field="user_id")
    return user


def _replan(conn: Connection, who: Principal, app: AppRecord, row: Any, *user_ids: str | None) -> list[str]:
    """Re-plan what a change to the member ``row`` can affect: the slice of it and of the users
    it was and is linked to (``incremental.reconcile_members``; the whole app where a slice
    cannot hold it); the jobs it queued (deduplicated by action)."""
    users = [u for u in (row.user_id, *user_ids) if u]
    outcome = incremental.reconcile_members(conn, who.workspace_id, app, [row.id], users, who.actor)
    return list(outcome["jobs"])


def _enqueue(conn: Connection, who: Principal, app: AppRecord, action: Any) -> str:
    return queue.enqueue(conn, who.workspace_id, reconcile.JOB_OF[type(action)], reconcile.action_payload(action),
                         app_id=app.id, dedupe_key=":".join((app.id, *action.key)), created_by=who.actor)  # fmt: skip


def _view(conn: Connection, app: AppRecord, member_id: str) -> dict[str, Any]:
    row = member_store.get_member(conn, app.id, member_id)
    if row is None:  # deleted with its app meanwhile
        raise NotFound(f"Member {member_id} not found in app {app.id}.")
    return member_view(row, member_store.permissions_of(conn, app.id, [row.remote_id]).get(row.remote_id, []))


async def _write(svc: Services, unit: Callable[[Connection], T]) -> T:
    out = await svc.db.write(unit)
    svc.wake_worker()
    return out


async def check(svc: Services, who: Principal, app_id: str) -> dict[str, Any]:
    """Check for updates: queue the import and reconcile of the app (one live check per app)."""

    def unit(conn: Connection) -> dict[str, Any]:
        app_store.get_app(conn, who.workspace_id, app_id)
        job_id = queue.enqueue(conn, who.workspace_id, "check", {"reason": "on demand"}, app_id=app_id,
                               dedupe_key=f"{app_id}:check", created_by=who.actor)  # fmt: skip
        audit(conn, who.workspace_id, who.actor, "app.check.request", "App", app_id, detail={"job_id": job_id})
        return {"job_id": job_id}

    return await _write(svc, unit)


async def list_members(svc: Services, who: Principal, app_id: str, state: str | None,
                       page: PageRequest) -> dict[str, Any]:  # fmt: skip
    if state is not None and state not in STATES:
        raise Invalid(f"state must be one of {', '.join(STATES)}.", field="state")
    after = page.after_id(MEMBERS)

    def unit(conn: Connection) -> dict[str, Any]:
        app_store.get_app(conn, who.workspace_id, app_id)
        rows = member_store.members_page(conn, app_id, state, after, page.fetch)
        perms = member_store.permissions_of(conn, app_id, [r.remote_id for r in rows[: page.limit]])
        return page_of(rows, page.limit, MEMBERS, lambda r: (r.id,), lambda r: member_view(r, perms.get(r.remote_id, [])))

    return await svc.db.read(unit)


SORTS = ("email", "name", "role")


async def search_members(svc: Services, who: Principal, app_id: str, state: str, text: str | None, sort: str,
                         page: PageRequest) -> dict[str, Any]:  # fmt: skip
    """One page of a set, searched (email, name or username contains ``text``) and sorted, paged on
    (sort key, id): page N costs what page 1 costs at any size. Also ``total`` (counted only for a
    search; else None: the set's count is known) and ``user_names`` (id -> userName) of the page's
    directory users."""
    if state not in STATES:
        raise Invalid(f"state must be one of {', '.join(STATES)}.", field="state")
    if sort not in SORTS:
        raise Invalid(f"sort must be one of {', '.join(SORTS)}.", field="sort")
    scope = f"{MEMBERS}:{sort}"
    after = cast(tuple[str, str], cursor.decode(scope, page.cursor, str, str)) if page.cursor else None

    def unit(conn: Connection) -> dict[str, Any]:
        app_store.get_app(conn, who.workspace_id, app_id)
        rows = member_store.search_page(conn, app_id, state, text, sort, after, page.fetch)
        shown = rows[: page.limit]
        perms = member_store.permissions_of(conn, app_id, [r.remote_id for r in shown])
        out = page_of(rows, page.limit, scope, lambda r: (getattr(r, member_store.SORT_KEYS[sort].name) or "", r.id),
                      lambda r: member_view(r, perms.get(r.remote_id, [])))  # fmt: skip
        names = people.user_names(conn, who.workspace_id, {r.user_id for r in shown if r.user_id})
        total = member_store.count_in_set(conn, app_id, state, text) if text else None
        return out | {"total": total, "user_names": names}

    return await svc.db.read(unit)


async def get_member(svc: Services, who: Principal, app_id: str, member_id: str) -> dict[str, Any]:
    def unit(conn: Connection) -> dict[str, Any]:
        app = app_store.get_app(conn, who.workspace_id, app_id)
        if member_store.get_member(conn, app.id, member_id) is None:
            raise NotFound(f"Member {member_id} not found in app {app_id}.")
        return _view(conn, app, member_id)

    return await svc.db.read(unit)


def _link(conn: Connection, who: Principal, app: AppRecord, row: Any, body: MatchBody, action: str) -> dict[str, Any]:
    _directory_user(conn, who.workspace_id, body.user_id)
    before = {"user_id": row.user_id, "bridge_role": row.bridge_role, "state": row.state}
    member_store.set_member(conn, row.id, user_id=body.user_id, bridge_role=body.bridge_role,
                            match_source="manual", state="matched")  # fmt: skip
    audit(conn, who.workspace_id, who.actor, action, "AppMember", row.id,
          detail={"app_id": app.id, "email": row.email, "before": before,
                  "after": {"user_id": body.user_id, "bridge_role": body.bridge_role}})  # fmt: skip
    jobs = _replan(conn, who, app, row, body.user_id)
    return _view(conn, app, row.id) | {"jobs": jobs}


async def match(svc: Services, who: Principal, app_id: str, member_id: str, body: MatchBody) -> dict[str, Any]:
    """Match with a directory user as ``owner`` or ``collaborator``."""

    def unit(conn: Connection) -> dict[str, Any]:
        app = app_store.get_app(conn, who.workspace_id, app_id)
        row = _member(conn, app, member_id, "matched")
        if row.exempt_reason is not None:
            raise Conflict(f"{_who(row)} is exempted; unexempt it first.", code="member_exempted")
        return _link(conn, who, app, row, body, "app.member.match")

    return await _write(svc, unit)


async def reassign(svc: Services, who: Principal, app_id: str, member_id: str, body: MatchBody) -> dict[str, Any]:
    """Re-assign: unmatch from its user and match to another, in one step."""

    def unit(conn: Connection) -> dict[str, Any]:
        app = app_store.get_app(conn, who.workspace_id, app_id)
        row = _member(conn, app, member_id, "re-assigned")
        _not_automation(row, "re-assigned")
        if row.user_id is None:
            raise Conflict(f"{_who(row)} is not matched to anyone; match it instead.", code="not_matched")
        if row.user_id == body.user_id:
            raise Conflict(f"{_who(row)} is already matched to that user.", code="same_user")
        return _link(conn, who, app, row, body, "app.member.reassign")

    return await _write(svc, unit)


async def exempt(svc: Services, who: Principal, app_id: str, member_id: str, body: ExemptBody) -> dict[str, Any]:
    """Keep the member whatever the directory says, with the reason (and who decided)."""

    def unit(conn: Connection) -> dict[str, Any]:
        app = app_store.get_app(conn, who.workspace_id, app_id)
        row = _member(conn, app, member_id, "exempted")
        _not_automation(row, "exempted")
        member_store.set_member(conn, row.id, exempt_reason=body.reason, exempted_by=who.actor, exempted_at=now(),
                                state="exempted")  # fmt: skip
        audit(conn, who.workspace_id, who.actor, "app.member.exempt", "AppMember", row.id,
              detail={"app_id": app.id, "email": row.email, "before": {"state": row.state},
                      "after": {"state": "exempted", "reason": body.reason}})  # fmt: skip
        _replan(conn, who, app, row)
        return _view(conn, app, row.id)

    return await _write(svc, unit)


async def unexempt(svc: Services, who: Principal, app_id: str, member_id: str) -> dict[str, Any]:
    def unit(conn: Connection) -> dict[str, Any]:
        app = app_store.get_app(conn, who.workspace_id, app_id)
        row = _member(conn, app, member_id, "unexempted")
        if row.exempt_reason is None:
            raise Conflict(f"{_who(row)} is not exempted.", code="not_exempted")
        member_store.set_member(conn, row.id, exempt_reason=None, exempted_by=None, exempted_at=None)
        audit(conn, who.workspace_id, who.actor, "app.member.unexempt", "AppMember", row.id,
              detail={"app_id": app.id, "email": row.email, "before": {"state": "exempted", "reason": row.exempt_reason}})  # fmt: skip
        _replan(conn, who, app, row)
        return _view(conn, app, row.id)

    return await _write(svc, unit)


async def remove(svc: Services, who: Principal, app_id: str, member_id: str) -> dict[str, Any]:
    """Remove the member from the app (and revoke its asset permissions): a job, verified after."""

    def unit(conn: Connection) -> dict[str, Any]:
        app = app_store.get_app(conn, who.workspace_id, app_id)
        row = _member(conn, app, member_id, "removed")
        _not_automation(row, "removed")
        _require(app, "remove", "remove members")
        if row.exempt_reason is not None:
            raise Conflict("Exempted members are never removed; unexempt it first.", code="member_exempted")
        perms = member_store.permissions_of(conn, app.id, [row.remote_id]).get(row.remote_id, [])
        assets = tuple(sorted(a for a, _ in perms))
        action = Remove(row.id, row.remote_id, row.user_id, assets, "admin")
        job_id = _enqueue(conn, who, app, action)
        audit(conn, who.workspace_id, who.actor, "app.member.remove.request", "AppMember", row.id,
              detail={"app_id": app.id, "email": row.email, "job_id": job_id, "revokes": list(assets)})  # fmt: skip
        return {"job_id": job_id}

    return await _write(svc, unit)


async def change_roles(svc: Services, who: Principal, app_id: str, member_id: str, body: RolesBody) -> dict[str, Any]:
    """Change the member's app role (a job, where the kind can) and/or its bridge role. A bridge
    role an admin gives makes the member's match manual (``match``): kept at every check, the
    link and the role, whatever the rules or the member's app role would give."""

    def unit(conn: Connection) -> dict[str, Any]:
        app = app_store.get_app(conn, who.workspace_id, app_id)
        row = _member(conn, app, member_id, "changed")
        out: dict[str, Any] = {}
        after = body.model_dump(exclude_none=True)
        if body.app_role is not None and body.app_role != row.app_role:
            _not_automation(row, "given another role")
            _require(app, "change_role", "change a member's role")
            known = reconcile.vocabulary(app.kind).roles
            if body.app_role not in known:
                raise Invalid(f"app_role must be one of {', '.join(known)}.", field="app_role")
            action = ChangeRole(row.id, row.remote_id, row.app_role or "", body.app_role)
            out["job_id"] = _enqueue(conn, who, app, action)
        if body.bridge_role is not None and body.bridge_role != row.bridge_role:
            if row.user_id is None:
                raise Conflict("Only a matched member has a bridge role; match it first.", code="not_matched")
            # the admin's decision, kept as a manual match to the member's user with that role:
            # a match by email takes its role from the rules or the app role at each reconcile
            member_store.set_member(conn, row.id, bridge_role=body.bridge_role, match_source="manual")
            after["match_source"] = "manual"
            _replan(conn, who, app, row)
        audit(conn, who.workspace_id, who.actor, "app.member.roles", "AppMember", row.id,
              detail={"app_id": app.id, "email": row.email,
                      "before": {"app_role": row.app_role, "bridge_role": row.bridge_role,
                                 "match_source": row.match_source},
                      "after": after})  # fmt: skip
        return _view(conn, app, row.id) | out

    return await _write(svc, unit)


async def invite(svc: Services, who: Principal, app_id: str, body: InviteBody) -> dict[str, Any]:
    """Invite a directory user into the app with a role: a job."""

    def unit(conn: Connection) -> dict[str, Any]:
        app = app_store.get_app(conn, who.workspace_id, app_id)
        _require(app, "invite", "invite members")
        user = _directory_user(conn, who.workspace_id, body.user_id)
        if not user.active:
            raise Conflict("A deactivated user cannot be invited.", code="user_inactive")
        vocab = reconcile.vocabulary(app.kind)
        role = body.app_role or vocab.default_app_role(body.bridge_role)
        if role not in vocab.roles:
            raise Invalid(f"app_role must be one of {', '.join(vocab.roles)}.", field="app_role")
        action = Invite(user.id, people.email_of(conn, user), role, body.bridge_role)
        job_id = _enqueue(conn, who, app, action)
        audit(conn, who.workspace_id, who.actor, "app.member.invite.request", "App", app.id,
              detail={"user_id": user.id, "app_role": role, "bridge_role": body.bridge_role, "job_id": job_id})  # fmt: skip
        return {"job_id": job_id}

    return await _write(svc, unit)


async def plan(svc: Services, who: Principal, app_id: str) -> dict[str, Any]:
    """What reconciling the app now would do (nothing is written)."""

    def unit(conn: Connection) -> dict[str, Any]:
        app = app_store.get_app(conn, who.workspace_id, app_id)
        loaded = reconcile.load(conn, who.workspace_id, app)
        return {"actions": reconcile.plan_view(loaded.result), **reconcile.summary(loaded.result)}

    return await svc.db.read(unit)


async def assets(svc: Services, who: Principal, app_id: str, page: PageRequest) -> dict[str, Any]:
    """The app's assets ordered by id, each with every member's permission on it."""
    after = page.after_id(ASSETS)

    def unit(conn: Connection) -> dict[str, Any]:
        app_store.get_app(conn, who.workspace_id, app_id)
        rows = member_store.assets_page(conn, app_id, after, page.fetch)
        grants = member_store.grants_on(conn, app_id, [r.asset_id for r in rows[: page.limit]])
        return page_of(rows, page.limit, ASSETS, lambda r: (r.asset_id,),
                       lambda r: {"id": r.asset_id, "name": r.name, "type": r.type,
                                  "permissions": grants.get(r.asset_id, [])})  # fmt: skip

    return await svc.db.read(unit)
