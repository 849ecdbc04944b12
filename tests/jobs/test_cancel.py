"""Cancelling a job is honoured between its steps and before any effect on the app; what it did
before the cancel is recorded truthfully and reported as ``{"cancelled": true, "partial": ...}``.

Over real HTTP against the sandbox, on SQLite and PostgreSQL; the sandbox's ``latency_ms`` keeps
a job running long enough to cancel it midway, and every wait is on a condition.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, text

from connectors.sandbox import SandboxClient
from scim_server.jobs import queue
from scim_server.jobs.queue import JobRecord
from scim_server.jobs.worker import Handler, JobContext, Worker
from scim_server.store.db import Database, now
from tests.admin.helpers import check, connect, members, remote_emails, scim_user, unique, wait_idle, wait_job
from tests.admin.test_deprovision import deactivate, pending_entries
from tests.servers import RunningServer
from tests.waiting import wait_for

# Two import batches (handlers.BATCH = 500): the cancel lands after the first is committed,
# while the last pages are read.
MANY = 950


def job(admin: httpx.Client, job_id: str) -> dict[str, Any]:
    return dict(admin.get(f"/jobs/{job_id}").json())


def settled(admin: httpx.Client, job_id: str) -> dict[str, Any]:
    """The cancelled job once its worker has recorded what it did (``result`` set)."""
    return dict(wait_for(lambda: (view := job(admin, job_id))["result"] is not None and view))


def audited(server: RunningServer, job_id: str) -> list[tuple[str, str]]:
    sql = text("SELECT action, target_id FROM audit_events WHERE actor = :actor ORDER BY id")
    return server.db.read_sync(
        lambda c: [(r.action, r.target_id) for r in c.execute(sql, {"actor": f"job:{job_id}"})]
    )


def everyone(admin: httpx.Client, app_id: str) -> dict[str, dict[str, Any]]:
    """Every member of the app by email, page after page."""
    found: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {"limit": 500}
    while True:
        page = admin.get(f"/apps/{app_id}/members", params=params).json()
        found |= {m["email"]: m for m in page["items"]}
        if not page["next_cursor"]:
            return found
        params["cursor"] = page["next_cursor"]


def job_ids(admin: httpx.Client, app_id: str) -> set[str]:
    return {j["id"] for j in admin.get("/jobs", params={"app_id": app_id, "limit": 500}).json()["items"]}


def cancel(admin: httpx.Client, job_id: str) -> dict[str, Any]:
    response = admin.post(f"/jobs/{job_id}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    return dict(response.json())


def test_cancelled_check_stops_importing_and_does_not_reconcile(
    server: RunningServer, admin: httpx.Client, sandbox: SandboxClient, scim_client: httpx.Client
) -> None:
    org, token = unique("org"), unique("ghp")
    crowd = [{"email": f"m{i:04}@example.com", "role": "member", "status": "active"} for i in range(MANY)]
    sandbox.seed("github", {"org": org, "token": token, "members": crowd})
    scim_user(scim_client, "m0000@example.com")
    app_id = connect(admin, sandbox, {"org": org, "token": token}, policy="automatic")
    check(admin, app_id)
    assert set(members(admin, app_id, "matched")) == {"m0000@example.com"}
    # Two changes only a finished check would apply: a member gone from the app (closed) and
    # a newcomer (at the end of the listing) whose directory user exists (matched).
    gone = everyone(admin, app_id)["m0001@example.com"]
    deleted = httpx.delete(f"{sandbox.kind_url('github')}/orgs/{org}/memberships/{gone['remote_id']}",
                           headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert deleted.status_code == 204
    scim_user(scim_client, "newhire@example.com")
    wait_idle(admin, app_id)  # its reconcile has nothing to do yet
    sandbox.seed("github", {"org": org, "members": [{"email": "newhire@example.com", "role": "member"}]})
    before = job_ids(admin, app_id)

    sandbox.faults("github", latency_ms=500)  # 10 pages of 100: about 5 s to list them all
    check_id = admin.post(f"/apps/{app_id}/check").json()["job_id"]
    wait_for(lambda: job(admin, check_id)["progress"]["done"] >= 500)  # one batch committed
    cancel(admin, check_id)
    view = settled(admin, check_id)
    sandbox.clear_faults()

    assert view["status"] == "cancelled" and view["result"]["cancelled"] is True, view
    imported = view["result"]["partial"]["imported"]
    assert 500 <= imported < MANY, view  # stopped before the end of the listing
    assert audited(server, check_id) == []  # no app.check event
    assert job_ids(admin, app_id) == before | {check_id}  # nothing queued by it
    assert set(members(admin, app_id, "matched")) == {"m0000@example.com"}  # no reconcile
    assert members(admin, app_id, "removed") == {}  # nothing closed
    # A check that runs to its end does both, so the cancelled one really stopped short.
    check(admin, app_id)
    assert set(members(admin, app_id, "matched")) == {"m0000@example.com", "newhire@example.com"}
    assert set(members(admin, app_id, "removed")) == {"m0001@example.com"}


def hold_app_slot(server: RunningServer, app_id: str) -> Callable[[], None]:
    """Another process holds one of the app's slots (the worker's per-app cap is 2), with a job
    kind no handler here takes; returns its release."""
    ws = server.db.read_sync(lambda c: c.execute(text("SELECT workspace_id FROM apps WHERE id = :a"), {"a": app_id}).scalar())
    held = server.db.write_sync(lambda c: queue.enqueue(c, ws, "elsewhere", {}, app_id=app_id))
    server.db.write_sync(lambda c: c.execute(queue.jobs.update().where(queue.jobs.c.id == held).values(
        status="running", lease_owner="another-process", lease_until=now() + timedelta(hours=1))))  # fmt: skip
    return lambda: server.db.write_sync(lambda c: queue.complete(c, held, "another-process", {}))


def test_cancelled_queued_removal_never_runs(
    server: RunningServer, admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any]
) -> None:
    app_id = connect(admin, sandbox, github)
    check(admin, app_id)
    agency = members(admin, app_id, "unmatched")["agency@outside.example"]
    release = hold_app_slot(server, app_id)
    sandbox.faults("github", latency_ms=1000)  # a check that keeps the app's other slot busy
    busy = admin.post(f"/apps/{app_id}/check").json()["job_id"]
    wait_for(lambda: job(admin, busy)["status"] == "running")
    removal = admin.post(f"/apps/{app_id}/members/{agency['id']}/remove").json()["job_id"]
    assert job(admin, removal)["status"] == "queued"
    cancelled = cancel(admin, removal)
    assert cancelled["result"] == {"cancelled": True, "partial": {}}
    assert job(admin, busy)["status"] == "running"  # the removal was cancelled while still queued
    sandbox.clear_faults()
    release()
    wait_job(admin, busy)
    check(admin, app_id)

    view = job(admin, removal)
    assert (view["status"], view["attempts"], view["started"]) == ("cancelled", 0, None), view
    assert "agency@outside.example" in remote_emails(sandbox, github["org"])
    assert "agency@outside.example" in members(admin, app_id, "unmatched")


def test_report_cancelled_midway_records_the_removals_made_and_leaves_the_rest(
    server: RunningServer, admin: httpx.Client, sandbox: SandboxClient, scim_client: httpx.Client
) -> None:
    org, token = unique("org"), unique("ghp")
    emails = [f"leaver{i}@example.com" for i in range(6)]
    sandbox.seed("github", {"org": org, "token": token,
                            "members": [{"email": e, "role": "member", "status": "active"} for e in emails],
                            "assets": [{"id": "repo-1", "name": "repo-1", "type": "repository",
                                        "grants": [{"email": e, "permission": "push"} for e in emails]}]})  # fmt: skip
    users = [scim_user(scim_client, e) for e in emails]
    app_id = connect(admin, sandbox, {"org": org, "token": token}, policy="report")
    check(admin, app_id)
    by_id = {m["id"]: email for email, m in members(admin, app_id, "matched").items()}
    assert sorted(by_id.values()) == emails
    for user in users:
        deactivate(scim_client, user)
    entries = wait_for(
        lambda: (found := pending_entries(admin, app_id)) and len(found) == len(emails) and found
    )
    report_id = next(iter(entries.values()))["report_id"]

    sandbox.faults("github", latency_ms=800)  # each member's revoke + removal takes about 1.6 s
    apply_id = admin.post(f"/reports/{report_id}/apply").json()["job_id"]
    wait_for(lambda: job(admin, apply_id)["progress"]["done"] >= 1)  # one member removed
    cancel(admin, apply_id)
    view = settled(admin, apply_id)
    sandbox.clear_faults()

    assert view["status"] == "cancelled" and view["result"]["cancelled"] is True, view
    removed = set(view["result"]["partial"]["removed"])
    assert 1 <= len(removed) < len(emails), view
    gone = {by_id[m] for m in removed}
    assert remote_emails(sandbox, org) == set(emails) - gone  # the rest untouched in the app
    assert set(members(admin, app_id, "removed")) == gone  # the removals made are recorded
    assert set(members(admin, app_id, "matched")) == set(emails) - gone  # the rest still listed
    assert sorted(audited(server, apply_id)) == sorted(("app.member.remove", m) for m in removed)
    report = next(
        r for r in admin.get("/reports", params={"app_id": app_id}).json()["items"] if r["id"] == report_id
    )
    statuses = {by_id[e["member_id"]]: e["status"] for e in report["entries"]}
    assert {e for e, s in statuses.items() if s == "removed"} == gone, statuses
    assert all(statuses[e] in ("pending", "held") for e in set(emails) - gone), statuses


# The mechanism itself, on both databases, without HTTP.


def test_a_cancel_between_the_check_and_the_commit_still_wins(db: Database, ws: int) -> None:
    job_id = db.write_sync(lambda c: queue.enqueue(c, ws, "x", {}))
    db.write_sync(lambda c: queue.claim(c, "w1", 30))
    db.read_sync(lambda c: queue.ensure_live(c, job_id, "w1"))  # live when the handler looks
    db.write_sync(lambda c: queue.cancel(c, ws, job_id))  # ... and cancelled right after

    def unit(conn: Connection) -> None:
        queue.enqueue(conn, ws, "y", {}, dedupe_key="written-by-the-unit")
        queue.guard(conn, job_id, "w1")

    with pytest.raises(queue.JobCancelled):
        db.write_sync(unit)
    assert db.read_sync(lambda c: queue.list_jobs(c, ws, status="queued")) == []  # rolled back whole
    with pytest.raises(queue.JobCancelled):
        db.read_sync(lambda c: queue.ensure_live(c, job_id, "w1"))
    with pytest.raises(queue.LeaseLost) as lost:
        db.read_sync(lambda c: queue.ensure_live(c, job_id, "w2"))  # not ours: lost, not cancelled
    assert not isinstance(lost.value, queue.JobCancelled)


def test_an_effect_made_before_the_cancel_is_recorded_and_settled_once(db: Database, ws: int) -> None:
    job_id = db.write_sync(lambda c: queue.enqueue(c, ws, "x", {}))
    db.write_sync(lambda c: queue.claim(c, "w1", 30))
    db.write_sync(lambda c: queue.cancel(c, ws, job_id))
    db.write_sync(lambda c: queue.guard_owner(c, job_id, "w1"))  # the holder may still record
    with pytest.raises(queue.LeaseLost):
        db.write_sync(lambda c: queue.guard_owner(c, job_id, "w2"))
    assert db.write_sync(lambda c: queue.settle_cancelled(c, job_id, "w1", {"removed": ["m1"]}))
    assert not db.write_sync(lambda c: queue.settle_cancelled(c, job_id, "w1", {"removed": []}))
    view = db.read_sync(lambda c: queue.get(c, ws, job_id))
    assert (view.status, view.result, view.lease_owner) == (
        "cancelled",
        {"cancelled": True, "partial": {"removed": ["m1"]}},
        None,
    )


def _run_and_cancel(db: Database, ws: int, handler: Handler, reached: Callable[[], asyncio.Event],
                    after_cancel: Callable[[], None] = lambda: None) -> JobRecord:  # fmt: skip
    """Run one job; once ``reached()`` is set, cancel it through the queue and interrupt it as
    ``POST /jobs/{id}/cancel`` does; returns the job once the worker is done with it."""
    job_id = db.write_sync(lambda c: queue.enqueue(c, ws, "x", {}))

    async def go() -> None:
        db.start()
        worker = Worker(db, {"x": handler})
        running = asyncio.create_task(worker.run_once())
        await asyncio.wait_for(reached().wait(), 30)
        await db.write(lambda c: queue.cancel(c, ws, job_id))
        assert worker.interrupt(job_id)
        after_cancel()
        await asyncio.wait_for(running, 30)

    asyncio.run(go())
    return db.read_sync(lambda c: queue.get(c, ws, job_id))


def test_a_cancel_interrupts_a_handler_reading_the_app_at_once(db: Database, ws: int) -> None:
    reading = asyncio.Event()

    async def handler(ctx: JobContext) -> dict[str, Any]:
        ctx.partial["imported"] = 500
        async with ctx.interruptible():
            reading.set()
            await asyncio.Event().wait()  # a read that would never end by itself
        raise AssertionError("not interrupted")

    job = _run_and_cancel(db, ws, handler, lambda: reading)
    assert (job.status, job.result) == ("cancelled", {"cancelled": True, "partial": {"imported": 500}})


def test_a_cancel_never_cuts_an_effect_in_half(db: Database, ws: int) -> None:
    in_effect, release = asyncio.Event(), asyncio.Event()
    effects: list[str] = []

    async def handler(ctx: JobContext) -> dict[str, Any]:
        for member in ("m1", "m2"):
            await ctx.ensure_live()
            in_effect.set()
            await release.wait()  # the vendor call in flight when the cancel lands
            effects.append(member)
            await ctx.db.write(ctx.guard_owner)  # the effect is recorded all the same
            ctx.partial["removed"] = list(effects)
        return {"removed": effects}

    job = _run_and_cancel(db, ws, handler, lambda: in_effect, after_cancel=release.set)
    assert effects == ["m1"]  # finished the one in flight, never started the next
    assert (job.status, job.result) == ("cancelled", {"cancelled": True, "partial": {"removed": ["m1"]}})
