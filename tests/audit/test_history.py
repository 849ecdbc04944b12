"""The point-in-time access report replays exactly the access that held: a hypothesis test over
random histories of imports, matches, exemptions, grants and removals, made through the store
functions the services and job handlers call, on SQLite and PostgreSQL. Asked for any instant
between two changes, the report equals a model of the access after the first of them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, text

from scim_server.audit import access, history
from scim_server.store import apps as app_store
from scim_server.store import members as member_store
from scim_server.store.db import Database, now
from tests.audit.conftest import new_workspace
from tests.clock import leave_millisecond

REMOTES = ("r0", "r1", "r2", "r3")
ASSETS = ("a0", "a1")
ROLES = ("Admin", "Standard")


@dataclass(frozen=True)
class Account:
    role: str
    state: str = "unmatched"
    user_id: str | None = None
    bridge_role: str | None = None
    match_source: str | None = None
    exempt_reason: str | None = None
    perms: dict[str, str] = field(default_factory=dict)

    def view(self) -> tuple[Any, ...]:
        assets = [f"{a}:{p}" for a, p in sorted(self.perms.items())]
        return self.role, self.state, self.user_id, self.bridge_role, self.match_source, self.exempt_reason, assets


def _view(row: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    return row["account_id"], (row["app_role"], row["state"], row["directory_user_id"], row["bridge_role"],
                               row["match_source"], row["exempt_reason"], row["assets"])  # fmt: skip


remote = st.sampled_from(REMOTES)
imports = st.tuples(
    st.just("import"),
    st.dictionaries(remote, st.sampled_from(ROLES), max_size=len(REMOTES)),
    st.dictionaries(st.tuples(st.sampled_from(ASSETS), remote), st.sampled_from(("read", "write")), max_size=4),
)
steps = st.lists(st.one_of(
    imports,
    st.tuples(st.just("match"), remote, st.sampled_from(("u1", "u2")), st.sampled_from(("owner", "collaborator"))),
    st.tuples(st.just("exempt"), remote, st.sampled_from(("CI account", "=agency"))),
    st.tuples(st.just("unexempt"), remote),
    st.tuples(st.just("grant"), remote, st.sampled_from(ASSETS), st.sampled_from(("read", "admin"))),
    st.tuples(st.just("revoke"), remote, st.sampled_from(ASSETS)),
    st.tuples(st.just("remove"), remote),
), min_size=1, max_size=12)  # fmt: skip


def _apply(conn: Connection, ws: int, app_id: str, step: tuple[Any, ...], model: dict[str, Account]) -> None:
    """Make ``step`` through the store (as services and handlers do) and in ``model``."""
    kind = step[0]
    ids = dict(conn.execute(text("SELECT remote_id, id FROM app_members WHERE app_id = :a"), {"a": app_id}).all())
    if kind == "import":
        seen, roles, perms = now(), step[1], {k: v for k, v in step[2].items() if k[1] in step[1]}
        batch = [member_store.ImportedMember(r, f"{r}@example.com", r, r.upper(), role, "active")
                 for r, role in roles.items()]  # fmt: skip
        member_store.upsert_members(conn, ws, app_id, batch, seen)
        member_store.close_vanished(conn, app_id, seen)
        for r in roles:  # a reopened account starts afresh, as reconciliation would set it
            if r in ids and r not in model:
                member_store.set_member(conn, ids[r], state="unmatched", user_id=None, bridge_role=None,
                                        match_source=None, exempt_reason=None, exempted_by=None, exempted_at=None)  # fmt: skip
        member_store.replace_assets(conn, ws, app_id, [(a, a, "repo") for a in ASSETS],
                                    [(a, r, p) for (a, r), p in perms.items()])  # fmt: skip
        for r in [r for r in model if r not in roles]:
            del model[r]
        for r, role in roles.items():
            model[r] = replace(model.get(r) or Account(role), role=role,  # a known open account keeps its state
                               perms={a: p for (a, rr), p in perms.items() if rr == r})  # fmt: skip
        return
    r = step[1]
    if r not in model:
        return  # the services refuse an action on an account that is not open
    member_id = ids[r]
    if kind == "match":
        member_store.set_member(conn, member_id, state="matched", user_id=step[2], bridge_role=step[3],
                                match_source="manual", exempt_reason=None)  # fmt: skip
        model[r] = replace(model[r], state="matched", user_id=step[2], bridge_role=step[3], match_source="manual",
                           exempt_reason=None)  # fmt: skip
    elif kind == "exempt":
        member_store.set_member(conn, member_id, state="exempted", exempt_reason=step[2], exempted_by="tok_admin",
                                exempted_at=now())  # fmt: skip
        model[r] = replace(model[r], state="exempted", exempt_reason=step[2])
    elif kind == "unexempt":
        member_store.set_member(conn, member_id, state="unmatched", exempt_reason=None, exempted_by=None,
                                exempted_at=None, user_id=None, bridge_role=None, match_source=None)  # fmt: skip
        model[r] = replace(model[r], state="unmatched", exempt_reason=None, user_id=None, bridge_role=None,
                           match_source=None)  # fmt: skip
    elif kind == "grant":
        member_store.grant_permission(conn, ws, app_id, step[2], r, step[3])
        model[r] = replace(model[r], perms=model[r].perms | {step[2]: step[3]})
    elif kind == "revoke":
        member_store.revoke_permission(conn, app_id, step[2], r)
        model[r] = replace(model[r], perms={a: p for a, p in model[r].perms.items() if a != step[2]})
    elif kind == "remove":
        member_store.close_member(conn, app_id, member_id, r)
        del model[r]


def _report(db: Database, app: access.AppRef, at: datetime, limit: int) -> dict[str, tuple[Any, ...]]:
    """The report at ``at``, read ``limit`` accounts a page (paging is part of what is tested)."""
    out: dict[str, tuple[Any, ...]] = {}
    after: str | None = None
    while True:
        rows, after = db.read_sync(lambda conn, start=after: history.page_at(conn, app, at, start, limit))  # type: ignore[misc]
        for row in rows:
            key, value = _view(row)
            assert key not in out, "an account appears twice"
            out[key] = value
        if after is None:
            return out


def _new_app(db: Database) -> tuple[int, access.AppRef]:
    ws = new_workspace(db, "history")
    values = {"kind": "github", "label": "Eng", "business_id": uuid.uuid4().hex, "login_method": "sso",
              "account_secret": "x", "account_fields": [], "api_base_url": None, "deprovision_policy": "report",
              "schedule": "daily", "mass_removal_count": 10, "mass_removal_percent": 20}  # fmt: skip
    app = db.write_sync(lambda conn: app_store.create_app_row(conn, ws, values))
    return ws, access.AppRef(app.id, app.label)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history_steps=steps, limit=st.integers(1, 3))
def test_report_at_any_instant_is_the_access_that_held(db: Database, history_steps: list[tuple[Any, ...]],
                                                       limit: int) -> None:  # fmt: skip
    ws, app = _new_app(db)
    before = now()
    leave_millisecond(before)
    model: dict[str, Account] = {}
    snapshots: list[tuple[datetime, dict[str, tuple[Any, ...]]]] = []
    for step in history_steps:
        db.write_sync(lambda conn, s=step: _apply(conn, ws, app.id, s, model))  # type: ignore[misc]
        at = now()  # after the commit, before the next change
        snapshots.append((at, {r: a.view() for r, a in model.items()}))
        leave_millisecond(at)
    assert _report(db, app, before, limit) == {}
    for at, expected in snapshots:
        assert _report(db, app, at, limit) == expected
    # at = now is the current report
    current = {k: v for k, v in map(_view, access.rows(db.read_sync, app))}
    assert _report(db, app, now(), limit) == current == snapshots[-1][1]


def test_history_triggers_exist_at_head(db: Database) -> None:
    """A migration that recreates app_members (SQLite batch mode) would drop them silently."""
    ws, app = _new_app(db)
    batch = [member_store.ImportedMember("r0", "r0@example.com", "r0", "R0", "Admin", "active")]
    db.write_sync(lambda conn: member_store.upsert_members(conn, ws, app.id, batch, now()))
    db.write_sync(lambda conn: member_store.grant_permission(conn, ws, app.id, "a0", "r0", "read"))
    counts = db.read_sync(lambda conn: [conn.execute(text(f"SELECT count(*) FROM {t} WHERE app_id = :a"),
                                                     {"a": app.id}).scalar() for t in ("member_history", "permission_history")])  # fmt: skip
    assert counts == [1, 1]


def test_unchanged_import_writes_no_history(db: Database) -> None:
    """Only a change is history: an import that sees the same account only moves ``last_seen``."""
    ws, app = _new_app(db)
    batch = [member_store.ImportedMember("r0", "r0@example.com", "r0", "R0", "Admin", "active")]
    for _ in range(3):
        db.write_sync(lambda conn: member_store.upsert_members(conn, ws, app.id, batch, now()))
    count = db.read_sync(lambda conn: conn.execute(text("SELECT count(*) FROM member_history WHERE app_id = :a"),
                                                   {"a": app.id}).scalar())  # fmt: skip
    assert count == 1


def test_statements_over_many_rows_record_each_change_once(db: Database) -> None:
    """Set-based writes (a check's permission changes, its members' sets) record what changed,
    row by row, as each row's own write would: a changed permission as its old row revoked then
    its new one, an unchanged row not at all (PostgreSQL writes history per statement, 0021)."""
    ws, app = _new_app(db)
    batch = [member_store.ImportedMember(r, f"{r}@example.com", r, r, "Member", "active") for r in ("r0", "r1")]
    db.write_sync(lambda conn: member_store.upsert_members(conn, ws, app.id, batch, now()))
    grants = [("a0", "r0", "read"), ("a0", "r1", "read")]
    for permissions in (grants, [("a0", "r0", "write"), ("a0", "r1", "read")]):
        db.write_sync(lambda conn, p=permissions: member_store.replace_assets(conn, ws, app.id, [("a0", "a0", "repo")], p))
    ids = {r.remote_id: r.id for r in db.read_sync(lambda conn: member_store.open_members(conn, app.id))}
    db.write_sync(lambda conn: member_store.set_members(conn, [{"id": ids["r0"], "state": "matched"},
                                                               {"id": ids["r1"], "state": "unmatched"}], ("state",)))  # fmt: skip

    def history(sql: str) -> list[tuple[Any, ...]]:
        return db.read_sync(lambda conn: [tuple(r) for r in conn.execute(text(sql), {"a": app.id})])

    assert history("SELECT remote_id, permission FROM permission_history WHERE app_id = :a ORDER BY remote_id, id") == [
        ("r0", "read"), ("r0", None), ("r0", "write"), ("r1", "read")]
    assert history("SELECT remote_id, state FROM member_history WHERE app_id = :a ORDER BY remote_id, id") == [
        ("r0", "unmatched"), ("r0", "matched"), ("r1", "unmatched")]


@pytest.mark.parametrize("when", ["2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "yesterday"])
def test_bad_instants_are_refused(when: str) -> None:
    from scim_server.audit.service import BadQuery, parse_time

    with pytest.raises(BadQuery):
        parse_time("at", when)
    assert parse_time("at", "2026-01-01T00:00:00Z") == datetime(2026, 1, 1, tzinfo=UTC)
