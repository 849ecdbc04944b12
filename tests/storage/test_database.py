"""Group commit: a failing unit rolls back alone; every acknowledged write is committed."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path

from sqlalchemy import Connection, insert, select

from scim_server.settings import Settings
from scim_server.store import migrate
from scim_server.store.db import Database, now
from scim_server.store.models import Workspace

workspaces = Workspace.__table__


class Boom(Exception):
    pass


def _unit(i: int):  # type: ignore[no-untyped-def]
    def run(conn: Connection) -> int:
        conn.execute(insert(workspaces).values(name=f"ws-{i}", created=now()))
        if i % 3 == 0:
            raise Boom(i)
        return i

    return run


async def _many(db: Database, n: int) -> list[object]:
    return await asyncio.gather(*(db.write(_unit(i)) for i in range(n)), return_exceptions=True)


def test_failing_units_roll_back_alone(db_url: str) -> None:
    migrate.upgrade(db_url)
    db = Database(Settings(database_url=db_url))
    db.start()
    try:
        results = asyncio.run(_many(db, 60))
        names = set(db.read_sync(lambda conn: list(conn.execute(select(workspaces.c.name)).scalars())))
    finally:
        db.close()
    for i, result in enumerate(results):
        if i % 3 == 0:
            assert isinstance(result, Boom) and f"ws-{i}" not in names
        else:
            assert result == i and f"ws-{i}" in names


def test_a_failure_inside_one_batch_undoes_only_the_failed_unit(tmp_path: Path) -> None:
    """SQLite runs a batch without savepoints, then again with one per unit when a unit fails:
    the units before it run twice, and each effect is committed exactly once."""
    url = f"sqlite:///{tmp_path / 'batch.db'}"
    migrate.upgrade(url)
    db = Database(Settings(database_url=url))
    db.start()
    gate, started, calls = threading.Event(), threading.Event(), Counter[int]()

    def unit(i: int):  # type: ignore[no-untyped-def]
        def run(conn: Connection) -> int:
            if i == 0:
                started.set()  # the writer took unit 0 as a batch of its own
                assert gate.wait(10)  # holds the writer until every other unit is queued: one batch
            calls[i] += 1
            conn.execute(insert(workspaces).values(name=f"b-{i}", created=now()))
            if i == 5:
                raise Boom(i)
            return i

        return run

    async def scenario() -> list[object]:
        # Events, not timing: unit 0 is running alone before the others are submitted, and the
        # gate opens only once all nine are in the writer's queue (so they form one batch).
        writer = db._writer
        assert writer is not None
        queued, all_queued, submit = [0], asyncio.Event(), writer.submit

        def counting_submit(item):  # type: ignore[no-untyped-def]
            submit(item)
            queued[0] += 1
            if queued[0] == 10:
                all_queued.set()

        writer.submit = counting_submit  # type: ignore[method-assign]
        first = asyncio.ensure_future(db.write(unit(0)))
        assert await asyncio.to_thread(started.wait, 10)
        rest = [asyncio.ensure_future(db.write(unit(i))) for i in range(1, 10)]
        await asyncio.wait_for(all_queued.wait(), 10)
        gate.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    try:
        results = asyncio.run(scenario())
        names = db.read_sync(lambda conn: list(conn.execute(select(workspaces.c.name)).scalars()))
    finally:
        db.close()
    assert isinstance(results[5], Boom) and results[:5] + results[6:] == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    assert sorted(n for n in names if n.startswith("b-")) == [f"b-{i}" for i in range(10) if i != 5]
    # 0 ran alone first (the gate), so 1-4 ran twice, 5 once (not re-run), 6-9 once.
    assert [calls[i] for i in range(10)] == [1, 2, 2, 2, 2, 1, 1, 1, 1, 1]


def test_sqlite_is_wal_and_durable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db = Database(Settings(database_url=url))
    try:
        mode = db.read_sync(lambda conn: conn.exec_driver_sql("PRAGMA journal_mode").scalar())
        sync = db.write_sync(lambda conn: conn.exec_driver_sql("PRAGMA synchronous").scalar())
    finally:
        db.close()
    assert mode == "wal"
    assert sync == 2  # FULL: every commit reaches the disk before it is acknowledged


def test_start_compiles_every_hot_statement(db_url: str) -> None:
    """The first request of each kind finds its SQL already compiled for the dialect."""
    from scim_server.store import fastsql, outbox

    migrate.upgrade(db_url)
    db = Database(Settings(database_url=db_url))
    db.start()
    try:
        statements = list(fastsql._EVERY_STATEMENT)
    finally:
        db.close()
    assert fastsql.GROUP_BY_ID in statements and outbox.ENQUEUE_RECONCILES in statements
    assert len(statements) >= 30 and all(db.dialect in s._sql for s in statements)


def test_sqlite_page_cache_follows_the_setting(tmp_path: Path) -> None:
    """Every connection, reader and writer, caches at most ``sqlite_cache_mib`` (in KiB, negative)."""
    db = Database(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", sqlite_cache_mib=3))
    try:
        read = db.read_sync(lambda conn: conn.exec_driver_sql("PRAGMA cache_size").scalar())
        written = db.write_sync(lambda conn: conn.exec_driver_sql("PRAGMA cache_size").scalar())
    finally:
        db.close()
    assert (read, written) == (-3072, -3072)
