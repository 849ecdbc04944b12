"""Incremental reconciliation through the store equals the full one, on SQLite and PostgreSQL.

A random history: a directory (users with emails in varied case, a group some rule may name and
one no rule names), an app's members (some manually matched, some exempted), reconciled in full
and committed (the settled state: sets, report entries, queued jobs). Then random SCIM writes
(users deactivated, reactivated, re-addressed, renamed, deleted, created; members joining and
leaving either group, the group replaced by PUT or by a PATCH member replace, deleted) go on the
change feed, through the store's group writes (which record the users who moved). From there,
in two transactions that are rolled back, ``incremental.catch_up`` (the outbox job's work)
followed by random admin actions each reconciling its slice (``incremental.reconcile_members``,
as ``services/members.py`` seeds it), and a whole-app reconciliation followed by the same admin
actions each reconciling the whole app, must leave the same member rows, report entries, queued
jobs and unsettled users.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, create_engine, select

from scim_server import incremental, reconcile
from scim_server.jobs import queue
from scim_server.store import apps as app_store
from scim_server.store import directory, fastsql, feed, groups, migrate, tenancy
from scim_server.store import members as member_store
from scim_server.store import rules as rule_store
from scim_server.store.db import now
from scim_server.store.directory import GroupFields, UserFields
from scim_server.store.groups import MemberChange
from scim_server.store.members import ImportedMember
from scim_server.store.reports import entries
from tests.db import database_url

EMAILS = ("p0@example.com", "p1@example.com", "p2@example.com", "P3@Example.com")
USERS = tuple(f"u{i}" for i in range(6))
STORE = settings(max_examples=25, deadline=None, derandomize=False,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("incremental")
    with database_url(str(request.param), path) as url:
        migrate.upgrade(url)
        made = create_engine(url)
        fastsql.compile_all(made.dialect.name)
        yield made
        made.dispose()


def _doc(name: str, emails: list[str], active: bool) -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": active,
            "emails": [{"value": e} for e in emails]}  # fmt: skip


def _fields(name: str, emails: list[str], active: bool) -> UserFields:
    return UserFields(name, None, None, active, _doc(name, emails, active))


ADMIN_ACTIONS = ("match", "reassign", "exempt", "unexempt")
emails_st = st.lists(st.sampled_from(EMAILS + ("P0@EXAMPLE.COM", "mailto:p1@example.com")), max_size=2, unique=True)


# Addresses whose stored form (``value_ci``) is not their matching key: blanks, ``mailto:``, final
# dots, and letters case folding or NFKC changes (ß folds to ss, a fullwidth p to p, the Kelvin
# sign to k); userNames that are addresses count as one more.
ODD = ("p0@example.com", " P0@example.com", "mailto:p0@example.com", "p0@example.com.", "p0@example.com..",
       "mailto: p1@example.com", "P1@EXAMPLE.COM", "straße@example.com", "STRASSE@example.com",
       "\uff502@example.com", "p2@example.com", "\u212a@example.com", "k@example.com", "u1@example.com")  # fmt: skip
odd_emails_st = st.lists(st.sampled_from(ODD), max_size=3, unique=True)


def _name(u: str, form: int) -> str:
    """A userName for ``u``: plain, or an address in one of its stored forms."""
    return (f"user-{u}", f"{u}@example.com", f"MAILTO:{u}@Example.com", f"{u}@example.com.")[form]


@st.composite
def worlds(draw: st.DrawFn, addresses: st.SearchStrategy[list[str]] = emails_st,
           member_emails: tuple[str, ...] = (*EMAILS, "p0@EXAMPLE.com"), names: bool = False) -> dict[str, Any]:  # fmt: skip
    users = {u: (draw(addresses), draw(st.booleans() | st.just(True))) for u in draw(st.sets(st.sampled_from(USERS)))}
    members = [
        (f"r{i}", draw(st.sampled_from((*member_emails, f"out{i}@vendor.test", None))),
         draw(st.sampled_from(("member", "admin"))), draw(st.sampled_from(("active", "active", "pending"))))
        for i in range(draw(st.integers(0, 7)))
    ]  # fmt: skip
    manual = {i: draw(st.sampled_from(USERS)) for i in draw(st.sets(st.integers(0, 6), max_size=2))}
    exempt = draw(st.sets(st.integers(0, 6), max_size=2))
    in_group = draw(st.sets(st.sampled_from(USERS)))
    rule = draw(st.sampled_from((None, "member", "admin")))
    policy = draw(st.sampled_from(("report", "automatic")))
    in_other = draw(st.sets(st.sampled_from(USERS)))
    changes = draw(st.lists(st.tuples(st.sampled_from(USERS), st.sampled_from(
        ("active", "emails", "rename", "delete", "create", "group", "group", "put", "patch_replace", "delete_group",
         "other_group")), emails_st, st.sets(st.sampled_from(USERS))), min_size=1, max_size=4))  # fmt: skip
    admin = draw(st.lists(st.tuples(st.sampled_from(ADMIN_ACTIONS), st.integers(0, 7), st.sampled_from(USERS)),
                          max_size=3))  # fmt: skip
    forms = {u: draw(st.integers(0, 3)) if names else 0 for u in USERS}
    return {"users": users, "members": members, "manual": manual, "exempt": exempt, "in_group": in_group,
            "in_other": in_other, "rule": rule, "policy": policy, "changes": changes, "admin": admin,
            "names": {u: _name(u, form) for u, form in forms.items()}}  # fmt: skip


def _settle(conn: Connection, w: dict[str, Any]) -> tuple[int, app_store.AppRecord, dict[str, str], str]:
    """The world stored and reconciled in full: (workspace, app, user ids by name, group id);
    ``ids["@other"]`` is the group no rule names."""
    ws = tenancy.ensure_workspace(conn, f"inc-{uuid.uuid4().hex[:10]}")
    names = w.get("names", {})
    ids = {u: directory.create_user(conn, ws, _fields(names.get(u, f"user-{u}"), e, a)).id
           for u, (e, a) in w["users"].items()}  # fmt: skip
    group = groups.create_group(conn, ws, GroupFields("eng", None, {"displayName": "eng"}),
                                [ids[u] for u in w["in_group"] if u in ids])  # fmt: skip
    ids["@other"] = groups.create_group(conn, ws, GroupFields("ops", None, {"displayName": "ops"}),
                                        [ids[u] for u in w.get("in_other", ()) if u in ids]).id  # fmt: skip
    app = app_store.create_app_row(conn, ws, {
        "kind": "github", "label": "gh", "business_id": uuid.uuid4().hex, "login_method": "sso",
        "account_secret": "x", "account_fields": [], "deprovision_policy": w["policy"], "schedule": "manual",
        "mass_removal_count": 1000, "mass_removal_percent": 100})  # fmt: skip
    member_store.upsert_members(conn, ws, app.id, [ImportedMember(r, e, None, None, role, status)
                                                   for r, e, role, status in w["members"]], now())  # fmt: skip
    rows = {r.remote_id: r for r in member_store.open_members(conn, app.id)}
    for i, user in w["manual"].items():
        if f"r{i}" in rows and user in ids:
            member_store.set_member(conn, rows[f"r{i}"].id, user_id=ids[user], match_source="manual",
                                    bridge_role="collaborator")  # fmt: skip
    for i in w["exempt"]:
        if f"r{i}" in rows:
            member_store.set_member(conn, rows[f"r{i}"].id, exempt_reason="contractor")
    if w["rule"] is not None:
        rule_store.create(conn, ws, app.id, group.id, "collaborator", w["rule"], [])
    reconcile.persist(conn, ws, reconcile.load(conn, ws, app), "test")
    feed.save(conn, ws, app.id, feed.state(conn, app.id), feed.horizon(conn), feed.state(conn, app.id).unsettled)
    return ws, app, ids, group.id


def _group_write(conn: Connection, ws: int, ids: dict[str, str], group_id: str, uid: str, what: str,
                 others: set[str]) -> None:  # fmt: skip
    """One SCIM group write through the store (which records the users who moved), with the
    group's own feed entry (as ``scim/changes.record`` makes)."""
    if what in ("group", "other_group"):
        inside = {m["value"] for m in groups.members_of(conn, [group_id])[group_id]}
        change = MemberChange(remove=(uid,)) if uid in inside else MemberChange(add=(uid,))
        groups.patch_group(conn, ws, group_id, None, change, None)
    elif what == "put":
        fields = GroupFields("eng", None, {"displayName": "eng"})
        groups.replace_group(conn, ws, group_id, fields, [ids[u] for u in sorted(others) if u in ids], None)
    elif what == "patch_replace":
        change = MemberChange(replace=tuple(ids[u] for u in sorted(others) if u in ids), add=(uid,))
        groups.patch_group(conn, ws, group_id, None, change, None)
    else:
        groups.delete_group(conn, ws, group_id)
    feed.record(conn, ws, None, group_id)


def _write(conn: Connection, ws: int, ids: dict[str, str], group_id: str, changes: list[Any]) -> set[str]:
    """The SCIM writes, each with its feed entry; returns the kinds of entries made (``user``,
    ``group``: the ruled one, ``other``: the group no rule names)."""
    made: set[str] = set()
    gone = False
    for user, what, emails, others in changes:
        uid = ids.get(user)
        if uid is None or what == "create":
            if uid is None:
                ids[user] = directory.create_user(conn, ws, _fields(f"user-{user}", emails, True)).id
                feed.record(conn, ws, ids[user])
                made.add("user")
            continue
        if what in ("group", "put", "patch_replace", "delete_group"):
            if not gone:
                _group_write(conn, ws, ids, group_id, uid, what, others)
                gone = what == "delete_group"
                made.add("group")
            continue
        if what == "other_group":
            _group_write(conn, ws, ids, ids["@other"], uid, what, others)
            made.add("other")
            continue
        current = directory.get_user(conn, ws, uid)
        doc = dict(current.doc)
        if what == "delete":
            directory.delete_user(conn, ws, uid)
            del ids[user]
        else:
            if what == "active":
                doc["active"] = not doc.get("active", True)
            elif what == "emails":
                doc["emails"] = [{"value": e} for e in emails]
            else:
                doc["userName"] = f"renamed-{user}"
            fields = UserFields(doc["userName"], None, None, bool(doc.get("active", True)), doc)
            directory.replace_user(conn, ws, uid, fields, expected_version=current.version, current=current)
        feed.record(conn, ws, uid)
        made.add("user")
    return made


def _snapshot(conn: Connection, ws: int, app_id: str) -> dict[str, Any]:
    t = member_store.app_members
    members = conn.execute(select(t.c.remote_id, t.c.state, t.c.user_id, t.c.bridge_role, t.c.match_source,
                                  t.c.managed_user_id, t.c.conflicts).where(t.c.app_id == app_id)).all()  # fmt: skip
    jobs = conn.execute(select(queue.jobs.c.kind, queue.jobs.c.dedupe_key).where(
        queue.jobs.c.app_id == app_id, queue.jobs.c.status.in_(queue.LIVE), queue.jobs.c.kind != "reconcile")).all()  # fmt: skip
    report = conn.execute(select(entries.c.member_id, entries.c.status, entries.c.reason).where(
        entries.c.app_id == app_id)).all()  # fmt: skip
    return {"members": sorted(map(tuple, members), key=repr), "jobs": sorted(map(tuple, jobs)),
            "report": sorted(map(tuple, report)), "unsettled": feed.state(conn, app_id).unsettled}  # fmt: skip


def _rolled_back(engine: Engine, fn: Callable[[Connection], Any]) -> Any:
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            return fn(conn)
        finally:
            tx.rollback()


def _admin(conn: Connection, ws: int, app: app_store.AppRecord, ids: dict[str, str], actions: list[Any],
           replan: Callable[[Connection, str, list[str | None]], Any]) -> list[str]:  # fmt: skip
    """Admin actions on members as ``services/members.py`` makes them (the same checks and
    writes), each followed by ``replan(conn, member id, users it was and is linked to)``;
    returns how each was reconciled."""
    hows: list[str] = []
    for what, index, user in actions:
        row = {r.remote_id: r for r in member_store.open_members(conn, app.id)}.get(f"r{index}")
        uid = ids.get(user)
        if row is None or uid is None:
            continue
        if what in ("match", "reassign"):
            if row.exempt_reason is not None or (what == "reassign" and row.user_id in (None, uid)):
                continue
            member_store.set_member(conn, row.id, user_id=uid, bridge_role="owner", match_source="manual",
                                    state="matched")  # fmt: skip
            hows.append(replan(conn, row.id, [row.user_id, uid]))
        elif what == "exempt":
            member_store.set_member(conn, row.id, exempt_reason="contractor", exempted_by="test", exempted_at=now(),
                                    state="exempted")  # fmt: skip
            hows.append(replan(conn, row.id, [row.user_id]))
        elif row.exempt_reason is not None:
            member_store.set_member(conn, row.id, exempt_reason=None, exempted_by=None, exempted_at=None)
            hows.append(replan(conn, row.id, [row.user_id]))
    return hows


@STORE
@given(worlds())
def test_catch_up_equals_the_whole_app_reconciled(engine: Engine, world: dict[str, Any]) -> None:
    with engine.begin() as conn:
        ws, app, ids, group_id = _settle(conn, world)
    with engine.begin() as conn:
        made = _write(conn, ws, ids, group_id, world["changes"])

    def sliced(conn: Connection, member_id: str, users: list[str | None]) -> str:
        outcome = incremental.reconcile_members(conn, ws, app, [member_id], [u for u in users if u], "test")
        return str(outcome["reconciled"])

    def whole_app(conn: Connection, member_id: str, users: list[str | None]) -> str:
        reconcile.persist(conn, ws, reconcile.load(conn, ws, app), "test")
        return "app"

    def incremental_run(conn: Connection) -> tuple[dict[str, Any], Any, dict[str, Any], list[str]]:
        outcome = incremental.catch_up(conn, ws, app, None, "test")
        caught_up = _snapshot(conn, ws, app.id)
        hows = _admin(conn, ws, app, dict(ids), world["admin"], sliced)
        return caught_up, outcome["reconciled"], _snapshot(conn, ws, app.id), hows

    def full_run(conn: Connection) -> tuple[dict[str, Any], dict[str, Any]]:
        whole_app(conn, "", [])
        caught_up = _snapshot(conn, ws, app.id)
        _admin(conn, ws, app, dict(ids), world["admin"], whole_app)
        return caught_up, _snapshot(conn, ws, app.id)

    part, how, part_after, hows = _rolled_back(engine, incremental_run)
    whole, whole_after = _rolled_back(engine, full_run)
    assert part == whole
    assert part_after == whole_after
    assert how != "app" and set(hows) <= {"slice"}  # group writes and admin actions: never the whole app
    if made <= {"other"} or (world["rule"] is None and "user" not in made):  # no move a rule reads
        assert how == "nothing"


@STORE
@given(worlds(odd_emails_st, ODD, names=True))
def test_a_whole_app_reads_only_the_users_it_can_reach(engine: Engine, world: dict[str, Any]) -> None:
    """``reconcile.load`` reads the users the app's members and rules reach
    (``reconcile.relevant_directory``): it decides exactly as against the whole directory, odd
    addresses, deleted and re-addressed users, stale links and manual matches included."""
    with engine.begin() as conn:
        ws, app, ids, group_id = _settle(conn, world)
    with engine.begin() as conn:
        _write(conn, ws, ids, group_id, world["changes"])

    def outcome(conn: Connection, whole: bool) -> tuple[Any, ...]:
        loaded = reconcile.load(conn, ws, app, whole_directory=whole)
        result = loaded.result
        views = [result.membership(m) for m in loaded.actual.members]
        return result.plan, result.sets, dict(result.matches.user_of), dict(result.matches.disputed), views

    with engine.connect() as conn:
        assert outcome(conn, False) == outcome(conn, True)


def test_a_deactivation_reconciles_its_member_only(engine: Engine) -> None:
    """One user of fifty deactivated: the slice is that user and its member, and it is removed."""
    world = {"users": {f"u{i}": ([f"p{i}@x.io"], True) for i in range(50)},
             "members": [(f"r{i}", f"P{i}@X.io", "member", "active") for i in range(50)],
             "manual": {}, "exempt": set(), "in_group": set(), "rule": None, "policy": "automatic"}  # fmt: skip
    with engine.begin() as conn:
        ws, app, ids, _ = _settle(conn, world)
        current = directory.get_user(conn, ws, ids["u7"])
        doc = current.doc | {"active": False}
        directory.replace_user(conn, ws, ids["u7"], UserFields("user-u7", None, None, False, doc),
                               expected_version=current.version, current=current)  # fmt: skip
        feed.record(conn, ws, ids["u7"])
    with engine.begin() as conn:
        outcome = incremental.catch_up(conn, ws, app, None, "test")
        assert (outcome["reconciled"], outcome["members"]) == ("slice", 1)
        jobs = conn.execute(select(queue.jobs.c.payload).where(queue.jobs.c.app_id == app.id,
                                                               queue.jobs.c.kind == "remove")).scalars().all()  # fmt: skip
        assert len(jobs) == 1 and '"remote_id":"r7"' in jobs[0]
        again = incremental.catch_up(conn, ws, app, None, "test")  # the cursor moved: nothing to do
        assert again["reconciled"] == "nothing"


def test_the_feed_is_pruned_once_every_app_has_read_it(engine: Engine) -> None:
    world = {"users": {"u1": (["p1@x.io"], True)}, "members": [("r1", "p1@x.io", "member", "active")],
             "manual": {}, "exempt": set(), "in_group": set(), "rule": None, "policy": "automatic"}  # fmt: skip
    with engine.begin() as conn:
        ws, app, ids, _ = _settle(conn, world)
        lonely = tenancy.ensure_workspace(conn, f"inc-{uuid.uuid4().hex[:10]}")  # no app: nobody reads
        feed.record(conn, ws, ids["u1"])
        conn.execute(feed.changes_t.insert().values(workspace_id=lonely, user_id="x", created=now()))
    mine = select(feed.changes_t.c.seq).where(feed.changes_t.c.workspace_id.in_([ws, lonely]))
    with engine.begin() as conn:
        feed.prune(conn)
        assert len(conn.execute(mine).all()) == 1  # the app has not read its change yet
        incremental.catch_up(conn, ws, app, None, "test")
    with engine.begin() as conn:
        feed.prune(conn)
        assert conn.execute(mine).all() == []


def test_a_workspace_without_apps_records_no_change(engine: Engine) -> None:
    with engine.begin() as conn:
        ws = tenancy.ensure_workspace(conn, f"inc-{uuid.uuid4().hex[:10]}")
        feed.record(conn, ws, "someone")
        assert conn.execute(select(feed.changes_t.c.seq).where(feed.changes_t.c.workspace_id == ws)).all() == []
