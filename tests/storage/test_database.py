"""Group commit: a failing unit rolls back alone; every acknowledged write is committed."""

from __future__ import annotations

import asyncio
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
