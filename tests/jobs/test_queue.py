"""The durable queue on both databases: claim, lease expiry, retry policy, cancel, dedupe."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from connectors.errors import AuthError, RateLimited, VendorUnavailable
from scim_server.jobs import queue
from scim_server.jobs.worker import JobContext, Worker
from scim_server.settings import Settings
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database, now


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    migrate.upgrade(db_url)
    database = Database(Settings(database_url=db_url))
    yield database
    database.close()


@pytest.fixture
def ws(db: Database) -> int:
    return db.write_sync(lambda conn: tenancy.ensure_workspace(conn, "jobs"))


def test_enqueue_dedupes_live_jobs(db: Database, ws: int) -> None:
    first = db.write_sync(lambda c: queue.enqueue(c, ws, "remove", {"m": 1}, dedupe_key="remove:a:m1"))
    second = db.write_sync(lambda c: queue.enqueue(c, ws, "remove", {"m": 1}, dedupe_key="remove:a:m1"))
    assert first == second
    job = db.write_sync(lambda c: queue.claim(c, "w1", 30))
    db.write_sync(lambda c: queue.complete(c, job.id, "w1", {"ok": True}))
    third = db.write_sync(lambda c: queue.enqueue(c, ws, "remove", {"m": 1}, dedupe_key="remove:a:m1"))
    assert third != first


def test_expired_lease_is_claimed_again(db: Database, ws: int) -> None:
    job_id = db.write_sync(lambda c: queue.enqueue(c, ws, "check", {}))
    first = db.write_sync(lambda c: queue.claim(c, "dead-worker", 30))
    assert first.id == job_id and db.write_sync(lambda c: queue.claim(c, "w2", 30)) is None
    db.write_sync(lambda c: c.execute(update(queue.jobs).values(lease_until=now() - timedelta(seconds=1))))
    second = db.write_sync(lambda c: queue.claim(c, "w2", 30))
    assert second.id == job_id and second.attempts == 2 and second.lease_owner == "w2"
    assert not db.write_sync(lambda c: queue.complete(c, job_id, "dead-worker", {}))
    assert db.write_sync(lambda c: queue.complete(c, job_id, "w2", {"n": 1}))
    assert db.read_sync(lambda c: queue.get(c, ws, job_id)).status == "completed"


def test_concurrent_claimers_never_share_a_job(db: Database, ws: int) -> None:
    for i in range(30):
        db.write_sync(lambda c, i=i: queue.enqueue(c, ws, "check", {"i": i}))
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while (job := db.write_sync(lambda c: queue.claim(c, name, 30))) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 30 == len(set(claimed))


def test_claim_many_fills_slots_fairly_in_one_transaction(db: Database, ws: int) -> None:
    """One claim for several free slots takes what one claim a slot would have taken: the app with
    the fewest running first, never past ``per_app``, never two planning jobs of one app."""
    for app, kind, n in (("a", "reconcile", 2), ("a", "remove", 3), ("b", "remove", 3), ("c", "reconcile", 1)):
        for i in range(n):
            db.write_sync(lambda c, app=app, kind=kind, i=i: queue.enqueue(c, ws, kind, {"i": i}, app_id=app))
    taken = db.write_sync(lambda c: queue.claim_many(c, "w1", 30, per_app=2, limit=10))
    by_app = sorted((j.app_id, j.kind) for j in taken)
    assert by_app == [("a", "reconcile"), ("a", "remove"), ("b", "remove"), ("b", "remove"), ("c", "reconcile")]
    assert len({j.id for j in taken}) == 5 and all(j.status == "running" and j.lease_owner == "w1" for j in taken)
    assert [j.app_id for j in taken[:3]] in (["a", "b", "c"], ["a", "c", "b"])  # one per app before any second
    assert db.write_sync(lambda c: queue.claim_many(c, "w2", 30, per_app=2, limit=10)) == []
    first_two = db.write_sync(lambda c: queue.claim_many(c, "w2", 30, limit=2))  # no cap: the oldest due
    assert len(first_two) == 2


def _run_worker(db: Database, handler, **kw) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        db.start()
        worker = Worker(db, {"x": handler}, retry_base=0.01, **kw)
        while await worker.run_once():
            pass

    asyncio.run(go())


def test_retryable_errors_retry_and_honour_retry_after(db: Database, ws: int) -> None:
    job_id = db.write_sync(lambda c: queue.enqueue(c, ws, "x", {}, max_attempts=3))

    async def throttled(ctx: JobContext) -> dict:
        raise RateLimited("github", "list", "slow down", retry_after=120)

    _run_worker(db, throttled)
    job = db.read_sync(lambda c: queue.get(c, ws, job_id))
    assert job.status == "queued" and job.attempts == 1 and "slow down" in (job.error or "")
    run_after = db.read_sync(lambda c: c.execute(queue.jobs.select().where(queue.jobs.c.id == job_id)).first().run_after)
    assert run_after.replace(tzinfo=None) > (now() + timedelta(seconds=100)).replace(tzinfo=None)


def test_retries_until_success_and_gives_up_after_max_attempts(db: Database, ws: int) -> None:
    ok_id = db.write_sync(lambda c: queue.enqueue(c, ws, "x", {"fail_times": 2}, max_attempts=5))
    calls: dict[str, int] = {}

    async def flaky(ctx: JobContext) -> dict:
        calls[ctx.job.id] = calls.get(ctx.job.id, 0) + 1
        if calls[ctx.job.id] <= ctx.job.payload["fail_times"]:
            raise VendorUnavailable("slack", "remove", "503")
        await ctx.progress(1, 1)
        return {"done": True}

    for _ in range(10):
        db.write_sync(lambda c: c.execute(update(queue.jobs).values(run_after=now())))
        _run_worker(db, flaky)
    job = db.read_sync(lambda c: queue.get(c, ws, ok_id))
    assert job.status == "completed" and job.result == {"done": True} and job.attempts == 3
    assert (job.progress_done, job.progress_total) == (1, 1)


def test_non_retryable_error_fails_visibly(db: Database, ws: int) -> None:
    job_id = db.write_sync(lambda c: queue.enqueue(c, ws, "x", {}))

    async def denied(ctx: JobContext) -> dict:
        raise AuthError("github", "remove", "token expired")

    _run_worker(db, denied)
    job = db.read_sync(lambda c: queue.get(c, ws, job_id))
    assert job.status == "failed" and job.attempts == 1 and "token expired" in (job.error or "")


def test_cancel(db: Database, ws: int) -> None:
    job_id = db.write_sync(lambda c: queue.enqueue(c, ws, "x", {}))
    assert db.write_sync(lambda c: queue.cancel(c, ws, job_id)).status == "cancelled"
    assert db.write_sync(lambda c: queue.claim(c, "w", 30)) is None
    with pytest.raises(queue.JobStateConflict):
        db.write_sync(lambda c: queue.cancel(c, ws, job_id))
    with pytest.raises(queue.JobNotFound):
        db.read_sync(lambda c: queue.get(c, ws + 1, job_id))
