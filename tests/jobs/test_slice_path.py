"""The slice path's statements (issue 13: a deactivation costs its change, not the app), on SQLite
and PostgreSQL: each new statement shape selects exactly what the one it replaced did, through
the partial index made for it, and the mass-removal guard a slice counts on demand decides as the
whole app's reconciliation does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select, text, update

from scim_server import incremental, reconcile
from scim_server.jobs import queue
from scim_server.store import apps as app_store
from scim_server.store import directory, fastsql, feed
from scim_server.store import members as member_store
from scim_server.store import reports as report_store
from scim_server.store.app_models import App
from scim_server.store.db import Database, now
from scim_server.store.directory import UserFields
from tests.jobs.test_incremental_store import _rolled_back, _settle, engine  # noqa: F401

app_members = member_store.app_members
apps_t = App.__table__


def _plan(conn: Connection, sql: str, params: dict[str, Any]) -> str:
    """The database's plan for ``sql`` (PostgreSQL told to avoid sequential scans: its tables here
    are too small for an index to win on cost)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        return "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {sql}"), params))
    return "\n".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"), params))


def _world(n: int) -> dict[str, Any]:
    return {"users": {f"u{i}": ([f"p{i}@x.io"], True) for i in range(n)},
            "members": [(f"r{i}", f"p{i}@x.io", "member", "active") for i in range(n)],
            "manual": {}, "exempt": set(), "in_group": set(), "rule": None, "policy": "automatic"}  # fmt: skip


def test_the_seed_reads_disputed_and_userless_exempted_members_by_their_index(engine: Engine) -> None:  # noqa: F811
    """Open disputed members, and open exempted ones with no user, as the OR it replaced chose
    them: not an exempted member linked to a user, not a closed one, not another set."""

    def check(conn: Connection) -> None:
        _, app, ids, _ = _settle(conn, _world(9))
        rows = {r.remote_id: r.id for r in member_store.open_members(conn, app.id)}
        states: dict[str, dict[str, Any]] = {
            "r0": {"state": "disputed", "user_id": None}, "r1": {"state": "disputed", "user_id": ids["u1"]},
            "r2": {"state": "exempted", "user_id": None}, "r3": {"state": "exempted", "user_id": ids["u3"]},
            "r4": {"state": "disputed", "closed": now()}, "r5": {"state": "exempted", "user_id": None, "closed": now()},
            "r6": {"state": "unmatched", "user_id": None}, "r7": {"state": "removed", "user_id": None},
        }  # fmt: skip
        for remote_id, values in states.items():
            member_store.set_member(conn, rows[remote_id], **values)
        found = {mid for (mid,) in fastsql.fetchall(conn, incremental.UNSURE, {"app": app.id})}
        assert found == {rows["r0"], rows["r1"], rows["r2"]}
        unsure = (app_members.c.state == "disputed") | ((app_members.c.state == "exempted") & app_members.c.user_id.is_(None))
        before = select(app_members.c.id).where(app_members.c.app_id == app.id, unsure, member_store.OPEN)
        assert set(conn.execute(before).scalars()) == found
        sql = incremental.UNSURE.sql(conn.dialect.name).replace("%(app)s", ":app")
        assert "ix_app_members_unsure" in _plan(conn, sql, {"app": app.id})

    _rolled_back(engine, check)


def test_the_population_counts_open_active_members_by_their_index(engine: Engine) -> None:  # noqa: F811
    def check(conn: Connection) -> None:
        _, app, _, _ = _settle(conn, _world(6))
        rows = {r.remote_id: r.id for r in member_store.open_members(conn, app.id)}
        member_store.set_member(conn, rows["r0"], status="pending")
        member_store.set_member(conn, rows["r1"], closed=now(), state="removed")
        assert incremental.population(conn, app.id) == 4
        sql = incremental.ACTIVE.sql(conn.dialect.name).replace("%(app)s", ":app")
        assert "ix_app_members_active" in _plan(conn, sql, {"app": app.id})

    _rolled_back(engine, check)


def test_the_guard_window_reads_the_apps_removals_by_their_index(engine: Engine) -> None:  # noqa: F811
    """Removal jobs of the app in the window count (cancelled ones and other kinds do not)."""

    def check(conn: Connection) -> None:
        ws, app, _, _ = _settle(conn, _world(1))
        for n, kind in enumerate(("remove", "remove", "reconcile", "remove")):
            queue.enqueue(conn, ws, kind, {"n": n}, app_id=app.id)
        cancelled = queue.enqueue(conn, ws, "remove", {"n": 9}, app_id=app.id)
        queue.cancel(conn, ws, cancelled)
        assert reconcile._recent_removals(conn, ws, app.id) == 3
        sql = reconcile._RECENT_REMOVALS.sql(conn.dialect.name).replace("%(app)s", ":app").replace(
            "%(ws)s", ":ws").replace("%(since)s", ":since")  # fmt: skip
        plan = _plan(conn, sql, {"app": app.id, "ws": ws, "since": now()})
        assert "ix_jobs_removals" in plan, plan

    _rolled_back(engine, check)


def test_reported_for_members_reads_those_members_only(engine: Engine) -> None:  # noqa: F811
    def check(conn: Connection) -> None:
        ws, app, ids, _ = _settle(conn, _world(3))
        members = {m.remote_id: m for m in reconcile.load(conn, ws, app).members.values()}
        report_store.add_entries(conn, ws, app.id, [
            report_store.NewEntry(members[r], ids[u], "deactivated", "pending") for r, u in (("r0", "u0"), ("r1", "u1"))])  # fmt: skip
        everyone = report_store.reported(conn, app.id)
        assert set(everyone) == {members["r0"].id, members["r1"].id}
        assert report_store.reported(conn, app.id, [members["r1"].id, members["r2"].id]) == {
            members["r1"].id: everyone[members["r1"].id]}
        assert report_store.reported(conn, app.id, []) == {}

    _rolled_back(engine, check)


def _deactivate(conn: Connection, ws: int, user_id: str) -> None:
    current = directory.get_user(conn, ws, user_id)
    directory.replace_user(conn, ws, user_id, UserFields(current.doc["userName"], None, None, False,
                                                          current.doc | {"active": False}),
                           expected_version=current.version, current=current)  # fmt: skip
    feed.record(conn, ws, user_id)


@pytest.mark.parametrize(("count", "percent", "held"), [(1, 15, True), (1, 25, False), (2, 0, False), (0, 0, True)])
def test_a_slice_weighs_its_removals_against_the_whole_app(engine: Engine, count: int, percent: int,  # noqa: F811
                                                            held: bool) -> None:  # fmt: skip
    """Two of ten members' users deactivated in one change: 2 removals, 20 % of the app. The
    slice counts the app's members only when its removals exceed the guard's count, and then
    holds or sends them exactly as the whole app's reconciliation does."""

    def outcome(conn: Connection, whole: bool) -> tuple[str, int, int]:
        ws, app, ids, _ = _settle(conn, _world(10))
        conn.execute(update(apps_t).where(apps_t.c.id == app.id).values(mass_removal_count=count,
                                                                         mass_removal_percent=percent))  # fmt: skip
        app = app_store.get_app(conn, ws, app.id)
        for user in ("u3", "u4"):
            _deactivate(conn, ws, ids[user])
        if whole:
            result = reconcile.persist(conn, ws, reconcile.load(conn, ws, app), "test") | {"reconciled": "app"}
        else:
            result = incremental.catch_up(conn, ws, app, None if conn.dialect.name == "sqlite" else feed.horizon(conn),
                                          "test")  # fmt: skip
        jobs = conn.execute(select(queue.jobs.c.id).where(queue.jobs.c.app_id == app.id,
                                                          queue.jobs.c.kind == "remove")).all()  # fmt: skip
        return result["reconciled"], len(result["held"]), len(jobs)

    how, sliced_held, sliced_jobs = _rolled_back(engine, lambda conn: outcome(conn, False))
    _, whole_held, whole_jobs = _rolled_back(engine, lambda conn: outcome(conn, True))
    assert how == "slice"
    assert (sliced_held, sliced_jobs) == (whole_held, whole_jobs) == ((2, 0) if held else (0, 2))


def test_reconcile_jobs_running_together_share_one_horizon(db: Database, ws: int) -> None:
    """Eight reconcile jobs that began together read the feed's horizon once (each reading it
    took the exclusive feed lock from the others); a job that began after that read reads again,
    and sees the change recorded meanwhile."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite reads the horizon in the job's own write unit")
    db.write_sync(lambda conn: app_store.create_app_row(conn, ws, {
        "kind": "github", "label": "gh", "business_id": "b", "login_method": "sso", "account_secret": "x",
        "account_fields": [], "deprovision_policy": "automatic", "schedule": "manual",
        "mass_removal_count": 10, "mass_removal_percent": 20}))  # fmt: skip

    async def go() -> tuple[list[int | None], int | None, int | None]:
        db.start()
        began = now()
        reads = db.calls
        together = await asyncio.gather(*(feed.shared_horizon(db, began) for _ in range(8)))
        assert db.calls - reads == 1
        await db.write(lambda conn: feed.record(conn, ws, "someone"))
        again = await feed.shared_horizon(db, now())
        return together, again, await db.write(feed.horizon)

    together, again, latest = asyncio.run(go())
    assert len(set(together)) == 1 and together[0] is not None
    assert again == latest and again is not None and again > together[0]
