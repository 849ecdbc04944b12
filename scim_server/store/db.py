"""Engine, declarative base and the two ways in: ``Database.read`` and ``Database.write``.

SQLite (the embedded default) has one writer at a time and an fsync per commit. Rather than
serialising requests on a lock and paying one fsync each, writes are handed to one writer
thread that runs every unit of work waiting in the queue inside one transaction, each in its
own SAVEPOINT (a failing unit rolls back alone), commits once, and only then answers the
callers: group commit. A write is acknowledged only after it is durable.

PostgreSQL runs each unit in its own transaction on a worker thread; the server does group
commit itself. Reads on SQLite run inline on the event loop (a point query costs tens of
microseconds, less than a thread hop); on PostgreSQL they go to a thread.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import QueuePool

from scim_server.settings import Settings

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(synchronous: str, immediate: bool) -> Callable[..., None]:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT; we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    return on_connect


def make_engine(settings: Settings, *, writer: bool = True) -> Engine:
    """An engine for the configured database.

    For SQLite, ``writer=True`` gives the engine whose transactions start with
    ``BEGIN IMMEDIATE`` (taking the write lock up front, so two processes never deadlock
    upgrading a read lock); ``writer=False`` gives the read engine (deferred BEGIN).
    """
    url = settings.database_url
    if not settings.is_sqlite:
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 10},
        poolclass=QueuePool,
        pool_size=1 if writer else 8,
        max_overflow=4 if writer else 8,
    )
    event.listen(engine, "connect", _sqlite_pragmas(settings.sqlite_synchronous, writer))
    begin_sql = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin_sql)

    return engine


@dataclass
class _Unit:
    fn: Callable[[Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


@dataclass
class _GroupCommitWriter:
    """One thread that owns the SQLite write connection and commits in batches."""

    engine: Engine
    batch_max: int
    _queue: queue.SimpleQueue[_Unit | None] = field(default_factory=queue.SimpleQueue)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def submit(self, unit: _Unit) -> None:
        self._queue.put(unit)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.batch_max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            self._commit_batch(batch)

    def _commit_batch(self, batch: list[_Unit]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self.engine.begin() as conn:
                for unit in batch:
                    outcomes.append(_run_in_savepoint(conn, unit.fn))
        except BaseException as exc:  # the commit itself failed: nobody's write is durable
            for unit in batch:
                _resolve(unit, False, exc)
            return
        for unit, (ok, value) in zip(batch, outcomes):
            _resolve(unit, ok, value)


def _run_in_savepoint(conn: Connection, fn: Callable[[Connection], Any]) -> tuple[bool, Any]:
    savepoint = conn.begin_nested()
    try:
        value = fn(conn)
    except Exception as exc:
        savepoint.rollback()
        return False, exc
    savepoint.commit()
    return True, value


def _resolve(unit: _Unit, ok: bool, value: Any) -> None:
    def settle() -> None:
        if unit.future.cancelled():
            return
        if ok:
            unit.future.set_result(value)
        else:
            unit.future.set_exception(value)

    unit.loop.call_soon_threadsafe(settle)


class Database:
    """The application's handle on storage: engines plus the read/write entry points.

    ``write(fn)`` runs ``fn(conn)`` inside a transaction and returns its result once
    committed; an exception raised by ``fn`` rolls back everything ``fn`` did and is
    re-raised to the caller. ``read(fn)`` runs ``fn(conn)`` on a read-only snapshot.
    Use the ``*_sync`` variants from threads and CLI code.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings, writer=True)
        self.read_engine = make_engine(settings, writer=False) if settings.is_sqlite else self.engine
        self._writer: _GroupCommitWriter | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def start(self) -> None:
        if self.settings.is_sqlite and self._writer is None:
            self._writer = _GroupCommitWriter(self.engine, self.settings.write_batch_max)
            self._writer.start()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer = None
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    async def write(self, fn: Callable[[Connection], T]) -> T:
        if self._writer is not None:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[T] = loop.create_future()
            self._writer.submit(_Unit(fn, loop, future))
            return await future
        return await anyio.to_thread.run_sync(self.write_sync, fn)

    async def read(self, fn: Callable[[Connection], T]) -> T:
        if self.settings.is_sqlite:
            return self.read_sync(fn)
        return await anyio.to_thread.run_sync(self.read_sync, fn)

    def write_sync(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.begin() as conn:
            return fn(conn)

    def read_sync(self, fn: Callable[[Connection], T]) -> T:
        with self.read_engine.connect() as conn:
            try:
                return fn(conn)
            finally:
                conn.rollback()
