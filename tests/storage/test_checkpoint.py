"""WAL checkpoints off the writer's path, decided from what ``PRAGMA wal_checkpoint`` reports."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection

from scim_server.settings import Settings
from scim_server.store import migrate
from scim_server.store.checkpoint import Checkpointer
from scim_server.store.db import Database

PAGE = 4096
FRAME = PAGE + 24  # https://www.sqlite.org/walformat.html: a 24-byte header per frame


@contextmanager
def sqlite_db(path: Path) -> Iterator[tuple[Database, Checkpointer]]:
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    db = Database(Settings(database_url=url))
    db.start()
    assert db._checkpointer is not None
    try:
        yield db, db._checkpointer
    finally:
        db.close()


def audit_row(detail: str) -> Callable[[Connection], int]:
    """A unit adding one audit row; answers the writer connection's ``wal_autocheckpoint``."""

    def run(conn: Connection) -> int:
        raw = conn.connection.driver_connection
        raw.execute(  # type: ignore[union-attr]
            "INSERT INTO audit_events (workspace_id, at, actor, action, target_type, outcome, detail) "
            "VALUES (1, '2026-01-01 00:00:00', 't', 'a', 't', 'success', ?)",
            (detail,),
        )
        return int(raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0])  # type: ignore[union-attr]

    return run


def wal_frames(database: Path) -> int:
    """How far the WAL file ever grew, in frames (SQLite restarts it from the top, never shrinks it).
    A ``stat`` by path: it opens no descriptor, so it takes no lock away from anyone."""
    wal = Path(f"{database}-wal")
    return wal.stat().st_size // FRAME if wal.exists() else 0


def test_the_wal_is_checkpointed_off_the_writer(tmp_path: Path) -> None:
    """The writer's commits never checkpoint; the checkpointer copies the WAL into the database
    file every ``pages`` frames or so, and the WAL restarts instead of holding every page written."""
    database = tmp_path / "wal.db"
    blob = "x" * 100_000  # ~25 pages a row: 240 rows are 6000 pages
    with sqlite_db(database) as (db, checkpointer):
        checkpointer.pages, checkpointer.limit = 200, 800

        async def writes() -> list[int]:  # one at a time: the writer pauses between commits
            return [await db.write(audit_row(blob)) for _ in range(240)]

        autocheckpoints = asyncio.run(writes())
        frames = wal_frames(database)
        deadline = time.monotonic() + 30  # the last commits are copied within ``interval``
        while database.stat().st_size < 240 * len(blob):
            assert time.monotonic() < deadline, (
                f"the WAL was not copied into the database: {checkpointer.last}"
            )
            time.sleep(0.05)
        rows = db.read_sync(lambda conn: conn.exec_driver_sql("SELECT count(*) FROM audit_events").scalar())
    assert set(autocheckpoints) == {0}  # the writer's own connection never checkpoints
    assert rows == 240
    assert frames < 6000 // 2  # the WAL restarted, rather than holding every page written


@pytest.mark.xdist_group("heavy")  # a timing test: never beside the topology test's six processes
def test_a_writer_that_never_pauses_still_gets_its_wal_restarted(tmp_path: Path) -> None:
    """A PASSIVE checkpoint cannot catch up with a writer that always has a batch in flight, and
    the WAL restarts only when a batch begins with every frame copied: past ``limit`` frames the
    checkpointer holds the writer between two batches once, so the WAL stays bounded."""
    database = tmp_path / "busy.db"
    blob = "x" * 3000  # ~one page a row
    with sqlite_db(database) as (db, checkpointer):
        assert checkpointer.limit == 4000

        async def writer(units: int) -> None:
            for _ in range(units):
                await db.write(audit_row(blob))

        async def saturate() -> None:
            await asyncio.gather(*(writer(400) for _ in range(64)))  # 25600 rows, ~one frame each

        asyncio.run(saturate())
        rows = db.read_sync(lambda conn: conn.exec_driver_sql("SELECT count(*) FROM audit_events").scalar())
        frames = wal_frames(database)  # before close, which checkpoints and removes the WAL
    assert rows == 25600
    # Unbounded, the WAL holds every frame (~28000); bounded, the limit plus what the writer
    # commits while two checkpoints run: ~4500 on a quiet machine, 8000+ when fsync is slow.
    assert frames < 14_000
