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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, select, text

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
    normalize_email,
    reconcile,
    unsettled,
)
from scim_server.jobs import queue
from scim_server.store import fastsql, feed
from scim_server.store import members as member_store
from scim_server.store import reports as report_store
from scim_server.store import rules as rule_store
from scim_server.store.app_models import JOBS_REMOVALS
from scim_server.store.apps import AppRecord
from scim_server.store.db import now
from scim_server.store.models import IRREGULAR_EMAIL, IRREGULAR_NAME, ScimGroupMember, ScimUser, ScimUserValue

APP_ACTIONS: dict[str, type] = {"invite": Invite, "remove": Remove, "change_role": ChangeRole,
                                "grant": Grant, "revoke": Revoke}  # fmt: skip
JOB_OF = {cls: kind for kind, cls in APP_ACTIONS.items()}
GUARD_WINDOW = timedelta(minutes=5)
MEMBER_SETS = ("state", "user_id", "bridge_role", "match_source", "conflicts")


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
    emails = emails_from(fastsql.fetchall(conn, _WORKSPACE_EMAILS, {"ws": ws, "path": "emails.value"}))
    users = [user_of(row, emails) for row in fastsql.fetchall(conn, _WORKSPACE_USERS, {"ws": ws})]
    present = {u.id for u in users}
    users += tombstones(linked, set(linked) - present)
    groups = _rule_groups(conn, ws, group_ids)
    return Directory(tuple(users), {uid: frozenset(g) for uid, g in groups.items()})


def relevant_directory(conn: Connection, ws: int, rows: list[Any], linked: dict[str, set[str]],
                       group_ids: set[str]) -> Directory:  # fmt: skip
    """The users a whole-app reconciliation of the members ``rows`` can read, and no others: the
    result is the one ``load_directory``'s whole directory gives (``mapping.incremental``'s edges,
    followed from every member and every user a rule names), for work that grows with the app,
    not the directory (at 100,000 users the whole directory was half of a check's time).

    Those are the users linked to a member, the users in a rule's group, and every user holding a
    matching key one of them or a member holds (the tie-breaks and the invitation address read
    those). A key is looked up as stored (``value_ci``, ``user_name_ci``): that is the key itself
    for an address in printable ASCII without a ``mailto:`` or a final dot; a user with any other
    address (blanks, non-ASCII, ``mailto:``...) is loaded whatever its keys (``_IRREGULAR``: read
    from partial indexes that hold only those, a few in practice). Not for username matching: its
    keys are not looked up this way (``load`` reads the whole directory)."""
    groups = _rule_groups(conn, ws, group_ids)
    users = _users_by_id(conn, ws, set(linked) | set(groups))
    addresses = [r.email for r in rows] + [e for u in users for e in u.emails]
    keys = {key for a in addresses if (key := normalize_email(a)) is not None}
    param = {"ws": ws, "keys": fastsql.list_param(conn.dialect.name, sorted(keys))}
    owners = {uid for (uid,) in fastsql.fetchall(conn, _OWNERS, param)}
    owners.update(uid for (uid,) in fastsql.fetchall(conn, _IRREGULAR, {"ws": ws}))
    users += _users_by_id(conn, ws, owners - {u.id for u in users})
    users += tombstones(linked, set(linked) - {u.id for u in users})
    return Directory(tuple(users), {uid: frozenset(g) for uid, g in groups.items()})


def _rule_groups(conn: Connection, ws: int, group_ids: set[str]) -> dict[str, set[str]]:
    """member id -> the rule groups (of ``group_ids``) it is in."""
    groups: dict[str, set[str]] = defaultdict(set)
    if group_ids:
        query = select(group_members_t.c.member_id, group_members_t.c.group_id).where(
            group_members_t.c.workspace_id == ws, group_members_t.c.group_id.in_(sorted(group_ids)))  # fmt: skip
        for member_id, group_id in conn.execute(query):
            groups[member_id].add(group_id)
    return groups


def _users_by_id(conn: Connection, ws: int, ids: set[str]) -> list[DirectoryUser]:
    """The users with these ids that the workspace holds, with their emails (``user_of``)."""
    if not ids:
        return []
    param = {"ws": ws, "ids": fastsql.list_param(conn.dialect.name, sorted(ids))}
    emails = emails_from(fastsql.fetchall(conn, _EMAILS_BY_ID, param))
    return [user_of(row, emails) for row in fastsql.fetchall(conn, _USERS_BY_ID, param)]


def _by_list(name: str, sql: str) -> fastsql.Statement:
    """``sql`` joined to the list parameter ``name`` as the relation ``j(value)``, the list
    read first: SQLite's planner otherwise scans the table and the list for each of its rows
    (``CROSS JOIN`` fixes its join order)."""
    return fastsql.Statement(
        text(sql.format(list=f"{fastsql.list_relation(fastsql.SQLITE, name)} CROSS JOIN")),
        text(sql.format(list=f"{fastsql.list_relation(fastsql.POSTGRESQL, name)} JOIN")),
    )


_USERS_BY_ID = _by_list("ids", "SELECT u.id, u.user_name, u.active FROM {list} "
                               "scim_users AS u ON u.id = j.value AND u.workspace_id = :ws")  # fmt: skip
_EMAILS_BY_ID = _by_list("ids", "SELECT v.user_id, v.elem, v.value FROM {list} "
                                "scim_user_values AS v ON v.user_id = j.value AND v.path = 'emails.value' "
                                "AND v.workspace_id = :ws")  # fmt: skip
_OWNERS = _by_list("keys", "SELECT v.user_id FROM {list} scim_user_values AS v ON v.workspace_id = :ws "
                           "AND v.path = 'emails.value' AND v.value_ci = j.value "
                           "UNION SELECT u.id FROM {list} scim_users AS u ON u.workspace_id = :ws "
                           "AND u.user_name_ci = j.value")  # fmt: skip
# Users with an address whose stored form need not be its key (``models.irregular``), through
# their partial indexes (the conditions spelled as the indexes spell them).
# SQLite is told the index (``INDEXED BY``): without statistics it preferred walking the
# workspace's addresses through ``ix_scim_user_values_lookup``.
_IRREGULAR = fastsql.Statement(*(
    text(f"SELECT user_id FROM scim_user_values {hint[0]} WHERE workspace_id = :ws AND {IRREGULAR_EMAIL[dialect]} "
         f"UNION SELECT id FROM scim_users {hint[1]} WHERE workspace_id = :ws AND {IRREGULAR_NAME[dialect]}")
    for dialect, hint in ((fastsql.SQLITE, ("INDEXED BY ix_scim_user_values_irregular", "INDEXED BY ix_scim_users_irregular")),
                          (fastsql.POSTGRESQL, ("", "")))))  # fmt: skip

users_t, values_t, group_members_t = ScimUser.__table__, ScimUserValue.__table__, ScimGroupMember.__table__
USERS = select(users_t.c.id, users_t.c.user_name, users_t.c.active)
# the whole directory, read on the driver (``fastsql``): at D = 100,000 SQLAlchemy's result layer
# cost more than the two queries themselves
_WORKSPACE_USERS = fastsql.Statement(USERS.where(users_t.c.workspace_id == bindparam("ws")))
_WORKSPACE_EMAILS = fastsql.Statement(select(values_t.c.user_id, values_t.c.elem, values_t.c.value)
                                      .where(values_t.c.workspace_id == bindparam("ws"),
                                             values_t.c.path == bindparam("path")))  # fmt: skip


def emails_of(conn: Connection, query: Any) -> dict[str, list[str]]:
    """user id -> its emails in document order (the first is the one to invite with), from
    ``query`` over (user id, elem, value) rows."""
    return emails_from(conn.execute(query))


def emails_from(rows: Iterable[Any]) -> dict[str, list[str]]:
    """``emails_of`` the (user id, elem, value) ``rows`` already read (most users have one)."""
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for user_id, elem, value in rows:
        found[user_id].append((elem or 0, value))
    return {uid: [v for _, v in sorted(pairs)] if len(pairs) > 1 else [pairs[0][1]] for uid, pairs in found.items()}


def user_of(row: Any, emails: dict[str, list[str]]) -> DirectoryUser:
    """A directory user as reconciliation sees it: its userName counts as one more address."""
    uid, name, active = row
    return DirectoryUser(uid, name, (*emails.get(uid, ()), name), bool(active))


def tombstones(linked: dict[str, set[str]], missing: set[str]) -> list[DirectoryUser]:
    """A deleted user some member is still linked to: deprovisioned, its members' emails kept."""
    return [DirectoryUser(uid, "", tuple(sorted(linked[uid])), False, deleted=True) for uid in sorted(missing)
            if uid in linked]  # fmt: skip


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
    reached: frozenset[str] | None = None  # a slice: the user ids it decided (None: the whole app)
    cursor: int | None = None  # the change feed read up to here (``incremental.catch_up``)


# The window's removal jobs, through ``ix_jobs_removals`` (partial on the kind, spelled verbatim):
# the window's removals are read, not every job the app had in it.
_RECENT_REMOVALS = fastsql.Statement(text(
    "SELECT count(*) FROM jobs WHERE app_id = :app AND workspace_id = :ws AND created >= :since"
    f" AND {JOBS_REMOVALS} AND status != 'cancelled'"
))  # fmt: skip


def _recent_removals(conn: Connection, ws: int, app_id: str) -> int:
    """Removals planned for the app within the window: its removal jobs, whatever became of them
    (except cancelled ones), and the removals the guard held in the window (so once it trips,
    the rest of the burst is held too, not sent one by one)."""
    since = now() - GUARD_WINDOW
    row = fastsql.fetchone(conn, _RECENT_REMOVALS, {"app": app_id, "ws": ws,
                                                    "since": fastsql.ts_in(conn.dialect.name, since)})  # fmt: skip
    return int(row[0] if row else 0) + report_store.held_since(conn, app_id, since)


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


_IN_FLIGHT = fastsql.Statement(
    select(queue.jobs.c.payload).where(
        queue.jobs.c.app_id == bindparam("app"), queue.jobs.c.workspace_id == bindparam("ws"),
        queue.jobs.c.status.in_([bindparam(f"s{i}") for i in range(len(queue.LIVE))]),
        queue.jobs.c.kind.in_([bindparam(f"k{i}") for i in range(len(APP_ACTIONS))]))
)  # fmt: skip
_IN_FLIGHT_PARAMS = fastsql.in_params("s", queue.LIVE) | fastsql.in_params("k", APP_ACTIONS)


def _in_flight(conn: Connection, ws: int, app_id: str) -> list[Any]:
    """The app's app actions queued or running (an index seek on ``ix_jobs_live``: the app's
    in-flight jobs, not its history)."""
    rows = fastsql.fetchall(conn, _IN_FLIGHT, _IN_FLIGHT_PARAMS | {"app": app_id, "ws": ws})
    return [a for (payload,) in rows if (a := action_from(orjson.loads(payload))) is not None]


def member_of(row: Any, perms: dict[str, list[tuple[str, str]]]) -> AppMember:
    """An app member row as ``mapping`` sees it, with its asset permissions (most members hold
    none: no grants to sort for them, once per member of a whole-app check)."""
    grants = perms.get(row.remote_id)
    return AppMember(row.id, row.remote_id, row.email, row.username, row.display_name, row.app_role or "",
                     "pending" if row.status == "pending" else "active",
                     asset_grants(dict(grants)) if grants else ())  # fmt: skip


def governance_of(rules: tuple[AssignmentRule, ...], rows: list[Any]) -> Governance:
    """The rules, and the manual matches and exemptions stored on ``rows``."""
    return Governance(
        rules=rules,
        manual_matches=tuple(ManualMatch(r.id, r.user_id, r.bridge_role or "collaborator")
                             for r in rows if r.match_source == "manual" and r.user_id),
        exemptions=tuple(Exemption(r.id, r.exempt_reason or "") for r in rows if r.exempt_reason is not None),
    )  # fmt: skip


def load(conn: Connection, ws: int, app: AppRecord, *, whole_directory: bool = False) -> Loaded:
    """The whole app reconciled: every open member against the directory, of which it reads the
    users it can read (``relevant_directory``), or every user with ``whole_directory``."""
    rows = member_store.open_member_states(conn, app.id)
    perms = member_store.permissions_by_member(conn, app.id)
    rules = load_rules(conn, app.id)
    linked: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r.user_id:
            linked[r.user_id].update([r.email] if r.email else [])
    group_ids = {r.group_id for r in rules}
    if whole_directory or policy_of(app).match_usernames:
        directory = load_directory(conn, ws, linked, group_ids)
    else:
        directory = relevant_directory(conn, ws, rows, linked, group_ids)
    members = tuple(member_of(r, perms) for r in rows)
    actual = Actual(members, report_store.reported(conn, app.id), {r.id: r.managed_user_id for r in rows if r.managed_user_id})
    return planned(conn, ws, app, rows, directory, governance_of(rules, rows), actual)


UNCOUNTED = 1 << 62  # an app population no guard percentage can trip on (``planned``)


def planned(conn: Connection, ws: int, app: AppRecord, rows: list[Any], directory: Directory,
            governance: Governance, actual: Actual, reached: frozenset[str] | None = None, *,
            population: Callable[[], int] | None = None) -> Loaded:  # fmt: skip
    """``mapping.reconcile`` of the loaded inputs (the whole app, or a slice of it with
    ``reached``), under the windowed mass-removal guard.

    A slice passes ``population`` (the app's active members, counted on demand): the guard needs
    it only when the window's removals exceed its count limit, which a lone deactivation's never
    do. So the slice is planned first as if the app were too big for the percentage to trip, and
    planned again with the real count only when its removals could trip the guard (the plan
    depends on the count through the guard alone)."""
    recent = _recent_removals(conn, ws, app.id)
    in_flight = _in_flight(conn, ws, app.id)
    policy = policy_of(app)
    if population is not None:
        guess = _planned(conn, ws, app, rows, directory, governance,
                         dataclasses.replace(actual, population=UNCOUNTED), reached, policy, recent, in_flight)  # fmt: skip
        removals = sum(isinstance(a, Remove) for a in guess.result.plan.actions) + len(guess.result.plan.held)
        if not policy.guard.enabled or recent + removals <= policy.guard.max_count:
            return dataclasses.replace(guess, actual=actual)
        actual = dataclasses.replace(actual, population=population())
    return _planned(conn, ws, app, rows, directory, governance, actual, reached, policy, recent, in_flight)


def _planned(conn: Connection, ws: int, app: AppRecord, rows: list[Any], directory: Directory,
             governance: Governance, actual: Actual, reached: frozenset[str] | None, policy: AppPolicy,
             recent: int, in_flight: list[Any]) -> Loaded:  # fmt: skip
    active = actual.active_count()
    result = reconcile(directory, governance, _window_policy(policy, recent, active), actual, in_flight)
    result, withdraw = _windowed(conn, ws, app, result, recent, active)
    return Loaded(app, rows, {m.id: m for m in actual.members}, actual, result, withdraw, reached)


def persist(conn: Connection, ws: int, loaded: Loaded, actor: str, *, enqueue: bool = True) -> dict[str, Any]:
    """Store the sets and the bookkeeping, queue the app actions; returns a summary."""
    app, result = loaded.app, loaded.result
    conflicts = _conflicts_by_member(result)
    changed: list[dict[str, Any]] = []
    for row in loaded.rows:
        view = result.membership(loaded.members[row.id])
        values = {"state": view.state, "user_id": view.user_id, "bridge_role": view.bridge_role,
                  "match_source": _match_source(row.match_source, view), "conflicts": conflicts.get(row.id)}  # fmt: skip
        if (row.state, row.user_id, row.bridge_role, row.match_source, row.conflicts) != tuple(values.values()):
            changed.append({"id": row.id, **values})
    member_store.set_members(conn, changed, MEMBER_SETS)
    adopted: list[dict[str, Any]] = []
    queued: list[str] = []
    reported: list[report_store.NewEntry] = []
    withdrawn: list[str] = []
    for action in result.plan.actions:
        if isinstance(action, ReportEntry):
            reported.append(report_store.NewEntry(loaded.members[action.member_id], action.user_id, action.reason,
                                                  "pending"))  # fmt: skip
        elif isinstance(action, ReportWithdrawal):
            withdrawn.append(action.member_id)
        elif isinstance(action, Adopt):
            adopted.append({"id": action.member_id, "managed_user_id": action.user_id})
        elif enqueue:
            queued.append(queue.enqueue(conn, ws, JOB_OF[type(action)], action_payload(action), app_id=app.id,
                                        dedupe_key=":".join((app.id, *action.key)), created_by=actor))  # fmt: skip
    report_store.add_entries(conn, ws, app.id, reported)  # a member has at most one report action per plan
    report_store.withdraw_many(conn, app.id, withdrawn)
    member_store.set_members(conn, adopted, ("managed_user_id",))
    _settle(conn, ws, loaded)
    report_store.add_entries(conn, ws, app.id, [
        report_store.NewEntry(loaded.members[h.action.member_id], h.action.user_id, h.action.cause, "held")
        for h in result.plan.held])  # fmt: skip
    for reason in list(dict.fromkeys(h.reason for h in reversed(result.plan.held)))[::-1]:  # once each, last wins
        report_store.hold(conn, app.id, reason)
    if enqueue:
        for job_id, removal in loaded.withdraw:  # the burst's removals not started yet: held with it
            with contextlib.suppress(queue.JobStateConflict):  # claimed meanwhile: it goes out
                member = loaded.members.get(removal.member_id)
                if queue.cancel(conn, ws, job_id).status == "cancelled" and member is not None:
                    report_store.add_entry(conn, ws, app.id, member, removal.user_id, removal.cause, "held")
    return summary(result) | {"jobs": queued}


def _settle(conn: Connection, ws: int, loaded: Loaded) -> None:
    """Keep the app's unsettled users (``mapping.incremental.unsettled``) and feed cursor: a
    slice replaces the users it reached, the whole app replaces them all."""
    current = feed.state(conn, loaded.app.id)
    users, _ = unsettled(loaded.result)
    if loaded.reached is not None:
        users = (current.unsettled - loaded.reached) | users
    feed.save(conn, ws, loaded.app.id, current, loaded.cursor, users)


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
