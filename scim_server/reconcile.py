"""Glue between storage and the pure reconciliation in ``mapping/``.

``reconcile_app(conn, ws, app)`` loads desired and actual state, calls ``mapping.reconcile``, and in
the caller's transaction stores the sets, records the bookkeeping actions (report entries,
withdrawals, adoptions) and queues each app action as a job (deduplicated by the action's key, so
re-planning never doubles one). Every path uses it: a check for updates, an IdP push (through the
outbox job), an admin action, and ``GET /plan`` (with ``apply=False``).

The mass-removal guard counts over a sliding window (``GUARD_WINDOW``), not one plan: the
removals queued for the app in the last window count with this plan's, so a burst the IdP pushes
as many small changes trips it as surely as one big change, while a lone deactivation goes out
at once (no debounce). When it trips, the window's removals not yet started are withdrawn (their
jobs cancelled) and held with this plan's, so the burst is held as a whole for an admin.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

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
    Held,
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
from scim_server.store import reports as report_store
from scim_server.store import rules as rule_store
from scim_server.store.apps import AppRecord
from scim_server.store.db import now
from scim_server.store.models import ScimGroupMember, ScimUser, ScimUserValue

APP_ACTIONS: dict[str, type] = {"invite": Invite, "remove": Remove, "change_role": ChangeRole,
                                "grant": Grant, "revoke": Revoke}  # fmt: skip
JOB_OF = {cls: kind for kind, cls in APP_ACTIONS.items()}
GUARD_WINDOW = timedelta(minutes=5)


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
    rows = rule_store.of_app(conn, app_id)
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
    withdraw: tuple[tuple[str, Remove], ...] = ()  # (job id, removal) the tripped window holds back


def _recent_removals(conn: Connection, ws: int, app_id: str) -> int:
    """Removals planned for the app within the window: its removal jobs, whatever became of them
    (except cancelled ones), and the removals the guard held in the window (so once it trips,
    the rest of the burst is held too, not sent one by one)."""
    jobs_t = queue.jobs
    since = now() - GUARD_WINDOW
    queued = select(func.count()).where(jobs_t.c.workspace_id == ws, jobs_t.c.app_id == app_id,
                                        jobs_t.c.created >= since, jobs_t.c.kind == "remove",
                                        jobs_t.c.status != "cancelled")  # fmt: skip
    return int(conn.execute(queued).scalar() or 0) + report_store.held_since(conn, app_id, since)


def _window_policy(policy: AppPolicy, recent: int, active: int) -> AppPolicy:
    """The guard as it applies to this plan's new removals, ``recent`` already counted: it trips
    exactly when ``recent + new`` exceeds both limits (``RemovalGuard.trips``)."""
    guard = policy.guard
    if not recent or not guard.enabled:
        return policy
    shifted = RemovalGuard(max_count=guard.max_count - recent,
                           max_percent=guard.max_percent - recent * 100.0 / max(active, 1))  # fmt: skip
    return dataclasses.replace(policy, guard=shifted)


def _queued_removals(conn: Connection, ws: int, app_id: str) -> list[tuple[str, Remove]]:
    jobs_t = queue.jobs
    rows = conn.execute(
        select(jobs_t.c.id, jobs_t.c.payload).where(jobs_t.c.workspace_id == ws, jobs_t.c.app_id == app_id,
                                                    jobs_t.c.status == "queued", jobs_t.c.kind == "remove")
    )  # fmt: skip
    found = [(job_id, action_from(orjson.loads(payload))) for job_id, payload in rows]
    return [(job_id, action) for job_id, action in found if isinstance(action, Remove)]


def _windowed(conn: Connection, ws: int, app: AppRecord, result: Reconciliation, recent: int,
              active: int) -> tuple[Reconciliation, tuple[tuple[str, Remove], ...]]:  # fmt: skip
    """When the windowed guard held this plan's removals: the reason told with the window's
    figures, and the window's removals still queued to withdraw and hold with them."""
    if not recent or not result.plan.held:
        return result, ()
    guard = policy_of(app).guard
    withdraw = tuple(_queued_removals(conn, ws, app.id))
    count = recent + len(result.plan.held)
    reason = (
        f"mass-removal guard: {count} removals within {int(GUARD_WINDOW.total_seconds() // 60)} minutes "
        f"({count * 100.0 / max(active, 1):.1f}% of {active} active members) exceed {guard.max_count} members "
        f"and {guard.max_percent:g}%; an admin must apply"
    )  # fmt: skip
    held = tuple(Held(h.action, reason) for h in result.plan.held)
    return dataclasses.replace(result, plan=dataclasses.replace(result.plan, held=held)), withdraw


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
    actual = Actual(members, report_store.reported(conn, app.id), {r.id: r.managed_user_id for r in rows if r.managed_user_id})
    recent = _recent_removals(conn, ws, app.id)
    active = sum(1 for m in members if m.status == "active")
    policy = _window_policy(policy_of(app), recent, active)
    result = reconcile(directory, governance, policy, actual, _in_flight(conn, ws, app.id))
    result, withdraw = _windowed(conn, ws, app, result, recent, active)
    return Loaded(app, rows, {m.id: m for m in members}, actual, result, withdraw)


def persist(conn: Connection, ws: int, loaded: Loaded, actor: str, *, enqueue: bool = True) -> dict[str, Any]:
    """Store the sets and the bookkeeping, queue the app actions; returns a summary."""
    app, result = loaded.app, loaded.result
    conflicts = _conflicts_by_member(result)
    for row in loaded.rows:
        view = result.membership(loaded.members[row.id])
        values = {"state": view.state, "user_id": view.user_id, "bridge_role": view.bridge_role,
                  "match_source": _match_source(row.match_source, view), "conflicts": conflicts.get(row.id)}  # fmt: skip
        if (row.state, row.user_id, row.bridge_role, row.match_source, row.conflicts) != tuple(values.values()):
            member_store.set_member(conn, row.id, **values)
    queued: list[str] = []
    for action in result.plan.actions:
        if isinstance(action, ReportEntry):
            report_store.add_entry(conn, ws, app.id, loaded.members[action.member_id], action.user_id, action.reason,
                                   "pending")  # fmt: skip
        elif isinstance(action, ReportWithdrawal):
            report_store.withdraw(conn, app.id, action.member_id)
        elif isinstance(action, Adopt):
            member_store.set_member(conn, action.member_id, managed_user_id=action.user_id)
        elif enqueue:
            queued.append(queue.enqueue(conn, ws, JOB_OF[type(action)], action_payload(action), app_id=app.id,
                                        dedupe_key=":".join((app.id, *action.key)), created_by=actor))  # fmt: skip
    for held in result.plan.held:
        report_store.add_entry(conn, ws, app.id, loaded.members[held.action.member_id], held.action.user_id,
                               held.action.cause, "held")  # fmt: skip
        report_store.hold(conn, app.id, held.reason)
    if enqueue:
        for job_id, removal in loaded.withdraw:  # the burst's removals not started yet: held with it
            with contextlib.suppress(queue.JobStateConflict):  # claimed meanwhile: it goes out
                member = loaded.members.get(removal.member_id)
                if queue.cancel(conn, ws, job_id).status == "cancelled" and member is not None:
                    report_store.add_entry(conn, ws, app.id, member, removal.user_id, removal.cause, "held")
    return summary(result) | {"jobs": queued}


def _conflicts_by_member(result: Reconciliation) -> dict[str, str]:
    """The plan's conflicts about each member (JSON, as stored on the member so its view shows them,
    e.g. a role change its app's kind cannot make)."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in result.plan.conflicts:
        if c.member_id is not None:
            found[c.member_id].append({"kind": c.kind, "detail": c.detail, "capability": c.capability})
    return {member_id: orjson.dumps(items).decode() for member_id, items in found.items()}


def _match_source(current: str | None, view: Any) -> str | None:
    """How a member came to its set: ``automation`` (the app's automation identity), ``manual`` (an
    admin matched it), ``auto`` (matched by email or username), else nothing."""
    if view.automation:
        return "automation"
    if current == "manual" and view.user_id is not None:
        return "manual"
    return "auto" if view.state == "matched" else (None if current == "automation" else current)


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
