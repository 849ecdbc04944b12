"""Glue between storage and the pure reconciliation in ``mapping/``.

``reconcile_app(conn, ws, app)`` loads desired and actual state, calls ``mapping.reconcile``, and in
the caller's transaction stores the sets, records the bookkeeping actions (report entries,
withdrawals, adoptions) and queues each app action as a job (deduplicated by the action's key, so
re-planning never doubles one). Every path uses it: a check for updates, an IdP push (through the
outbox job), an admin action, and ``GET /plan`` (with ``apply=False``).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, select, update

from connectors.registry import get_spec
from mapping import (
    Actual,
    Adopt,
    AppMember,
    AppPolicy,
    AssignmentRule,
    AutomationIdentity,
    ChangeRole,
    Directory,
    DirectoryUser,
    Exemption,
    Governance,
    Grant,
    Invite,
    ManualMatch,
    Reconciliation,
    RemovalGuard,
    Remove,
    ReportEntry,
    ReportWithdrawal,
    Revoke,
    RoleVocabulary,
    asset_grants,
    capabilities_of,
    reconcile,
)
from scim_server.jobs import queue
from scim_server.store import members as member_store
from scim_server.store.app_models import AssignmentRule as RuleRow
from scim_server.store.app_models import DeprovisionEntry, DeprovisionReport
from scim_server.store.apps import AppRecord
from scim_server.store.db import new_id, now
from scim_server.store.models import ScimGroupMember, ScimUser, ScimUserValue

APP_ACTIONS: dict[str, type] = {"invite": Invite, "remove": Remove, "change_role": ChangeRole,
                                "grant": Grant, "revoke": Revoke}  # fmt: skip
JOB_OF = {cls: kind for kind, cls in APP_ACTIONS.items()}
rules_t = RuleRow.__table__
reports_t = DeprovisionReport.__table__
entries_t = DeprovisionEntry.__table__


def vocabulary(kind: str) -> RoleVocabulary:
    return RoleVocabulary.from_roles(kind, get_spec(kind).roles)


def policy_of(app: AppRecord) -> AppPolicy:
    return AppPolicy(
        vocabulary=vocabulary(app.kind),
        deprovision=app.deprovision_policy,  # type: ignore[arg-type]
        guard=RemovalGuard(max_count=app.mass_removal_count, max_percent=float(app.mass_removal_percent)),
        automation=AutomationIdentity(remote_id=app.automation_remote_id, email=app.automation_email),
        capabilities=capabilities_of(app.kind),
    )


def load_directory(conn: Connection, ws: int, linked: dict[str, set[str]], group_ids: set[str]) -> Directory:
    """The workspace's users (with every email), plus a deleted tombstone for each user an app
    member is linked to but the directory no longer holds; the tombstone carries the linked
    members' emails, so the link survives the deletion and the member is deprovisioned."""
    users_t, values_t = ScimUser.__table__, ScimUserValue.__table__
    emails: dict[str, list[str]] = defaultdict(list)
    for user_id, value in conn.execute(
        select(values_t.c.user_id, values_t.c.value).where(values_t.c.workspace_id == ws, values_t.c.path == "emails.value")
    ):
        emails[user_id].append(value)
    users = [
        DirectoryUser(uid, name, tuple(emails.get(uid, ())) + (name,), bool(active))
        for uid, name, active in conn.execute(
            select(users_t.c.id, users_t.c.user_name, users_t.c.active).where(users_t.c.workspace_id == ws)
        )
    ]
    present = {u.id for u in users}
    users += [DirectoryUser(uid, "", tuple(sorted(linked[uid])), False, deleted=True)
              for uid in sorted(set(linked) - present)]  # fmt: skip
    groups: dict[str, set[str]] = defaultdict(set)
    if group_ids:
        members_t = ScimGroupMember.__table__
        query = select(members_t.c.member_id, members_t.c.group_id).where(members_t.c.group_id.in_(sorted(group_ids)))
        for member_id, group_id in conn.execute(query):
            groups[member_id].add(group_id)
    return Directory(tuple(users), {uid: frozenset(g) for uid, g in groups.items()})


def load_rules(conn: Connection, app_id: str) -> tuple[AssignmentRule, ...]:
    rows = conn.execute(select(rules_t).where(rules_t.c.app_id == app_id).order_by(rules_t.c.id))
    return tuple(
        AssignmentRule(r.id, r.group_id, r.bridge_role, r.app_role,
                       asset_grants({g["asset_id"]: g["permission"] for g in orjson.loads(r.asset_grants)}))
        for r in rows
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Loaded:
    app: AppRecord
    rows: list[Any]
    members: dict[str, AppMember]
    actual: Actual
    result: Reconciliation


def action_payload(action: Any) -> dict[str, Any]:
    return {"action": JOB_OF[type(action)], **dataclasses.asdict(action)}


def action_from(payload: dict[str, Any]) -> Any | None:
    cls = APP_ACTIONS.get(payload.get("action", ""))
    if cls is None:
        return None
    values = {f.name: payload.get(f.name) for f in dataclasses.fields(cls)}
    if "revokes" in values:
        values["revokes"] = tuple(values["revokes"] or ())
    return cls(**values)


def _in_flight(conn: Connection, ws: int, app_id: str) -> list[Any]:
    jobs_t = queue.jobs
    rows = conn.execute(
        select(jobs_t.c.payload).where(jobs_t.c.workspace_id == ws, jobs_t.c.app_id == app_id,
                                       jobs_t.c.status.in_(queue.LIVE), jobs_t.c.kind.in_(list(APP_ACTIONS)))
    )  # fmt: skip
    return [a for (payload,) in rows if (a := action_from(orjson.loads(payload))) is not None]


def load(conn: Connection, ws: int, app: AppRecord) -> Loaded:
    rows = member_store.open_members(conn, app.id)
    perms = member_store.permissions_by_member(conn, app.id)
    rules = load_rules(conn, app.id)
    linked: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r.user_id:
            linked[r.user_id].update([r.email] if r.email else [])
    directory = load_directory(conn, ws, linked, {r.group_id for r in rules})
    members = tuple(
        AppMember(r.id, r.remote_id, r.email, r.username, r.display_name, r.app_role or "",
                  "pending" if r.status == "pending" else "active", asset_grants(dict(perms.get(r.remote_id, ()))))
        for r in rows
    )  # fmt: skip
    governance = Governance(
        rules=rules,
        manual_matches=tuple(ManualMatch(r.id, r.user_id, r.bridge_role or "collaborator")
                             for r in rows if r.match_source == "manual" and r.user_id),
        exemptions=tuple(Exemption(r.id, r.exempt_reason or "") for r in rows if r.exempt_reason is not None),
    )
    reported = {
        e.member_id: e.reason
        for e in conn.execute(select(entries_t).where(entries_t.c.app_id == app.id, entries_t.c.status.in_(("pending", "held"))))
    }
    actual = Actual(members, reported, {r.id: r.managed_user_id for r in rows if r.managed_user_id})
    result = reconcile(directory, governance, policy_of(app), actual, _in_flight(conn, ws, app.id))
    return Loaded(app, rows, {m.id: m for m in members}, actual, result)


def pending_report(conn: Connection, ws: int, app_id: str) -> str:
    found = conn.execute(
        select(reports_t.c.id).where(reports_t.c.app_id == app_id, reports_t.c.status == "pending")
    ).scalar()
    if found is not None:
        return str(found)
    report_id = new_id()
    conn.execute(reports_t.insert().values(id=report_id, workspace_id=ws, app_id=app_id, status="pending", created=now()))
    return report_id


def _report(conn: Connection, ws: int, app_id: str, member_id: str, user_id: str | None, reason: str, status: str) -> None:
    report_id = pending_report(conn, ws, app_id)
    existing = conn.execute(
        select(entries_t.c.id).where(entries_t.c.app_id == app_id, entries_t.c.member_id == member_id,
                                     entries_t.c.status.in_(("pending", "held")))
    ).scalar()  # fmt: skip
    if existing is None:
        conn.execute(entries_t.insert().values(id=new_id(), workspace_id=ws, app_id=app_id, report_id=report_id,
                                               member_id=member_id, user_id=user_id, reason=reason, status=status,
                                               created=now(), updated=now()))  # fmt: skip


def persist(conn: Connection, ws: int, loaded: Loaded, actor: str, *, enqueue: bool = True) -> dict[str, Any]:
    """Store the sets and the bookkeeping, queue the app actions; returns a summary."""
    app, result = loaded.app, loaded.result
    for row in loaded.rows:
        view = result.membership(loaded.members[row.id])
        values = {"state": view.state, "user_id": view.user_id, "bridge_role": view.bridge_role}
        if view.state == "matched" and row.match_source != "manual":
            values["match_source"] = "auto"
        if (row.state, row.user_id, row.bridge_role) != (values["state"], values["user_id"], values["bridge_role"]):
            member_store.set_member(conn, row.id, **values)
    queued: list[str] = []
    for action in result.plan.actions:
        if isinstance(action, ReportEntry):
            _report(conn, ws, app.id, action.member_id, action.user_id, action.reason, "pending")
        elif isinstance(action, ReportWithdrawal):
            conn.execute(update(entries_t).where(entries_t.c.app_id == app.id, entries_t.c.member_id == action.member_id,
                                                 entries_t.c.status.in_(("pending", "held")))
                         .values(status="withdrawn", updated=now()))  # fmt: skip
        elif isinstance(action, Adopt):
            member_store.set_member(conn, action.member_id, managed_user_id=action.user_id)
        elif enqueue:
            queued.append(queue.enqueue(conn, ws, JOB_OF[type(action)], action_payload(action), app_id=app.id,
                                        dedupe_key=":".join((app.id, *action.key)), created_by=actor))  # fmt: skip
    for held in result.plan.held:
        _report(conn, ws, app.id, held.action.member_id, held.action.user_id, held.action.cause, "held")
        conn.execute(update(reports_t).where(reports_t.c.app_id == app.id, reports_t.c.status == "pending")
                     .values(held_reason=held.reason))  # fmt: skip
    return summary(result) | {"jobs": queued}


def summary(result: Reconciliation) -> dict[str, Any]:
    sets = result.sets
    return {
        "sets": {"matched": len(sets.matched), "unmatched": len(sets.unmatched), "disputed": len(sets.disputed),
                 "exempted": len(sets.exempted)},
        "held": [{"member_id": h.action.member_id, "reason": h.reason} for h in result.plan.held],
        "conflicts": [{"user_id": c.user_id, "kind": c.kind, "detail": c.detail, "member_id": c.member_id,
                       "capability": c.capability} for c in result.plan.conflicts],
    }  # fmt: skip


def plan_view(result: Reconciliation) -> list[dict[str, Any]]:
    return [{"type": type(a).__name__.lower(), **dataclasses.asdict(a)} for a in result.plan.actions] + [
        {"type": "held", "reason": h.reason, **dataclasses.asdict(h.action)} for h in result.plan.held
    ]
