"""Engine, declarative base and the two ways in: ``Database.read`` and ``Database.write``.

SQLite (the embedded default) has one writer at a time and an fsync per commit. Rather than
serialising requests on a lock and paying one fsync each, writes are handed to one writer
thread that runs every unit of work waiting in the queue inside one transaction, commits
once, and only then answers the callers: group commit. A write is acknowledged only after it
is durable. A failing unit must leave nothing behind, yet a SAVEPOINT per unit doubles the
cost of a unit that touches many pages (SQLite copies each page into the savepoint's journal
the first time the unit changes it), and units rarely fail: so a batch first runs without
savepoints, and only when a unit raises is the transaction rolled back and the batch run
again with a savepoint per unit, the failed unit answered with its error and not re-run.

PostgreSQL runs each unit in its own transaction on a worker thread; the server does group
commit itself. Reads on SQLite run inline on the event loop (a point query costs tens of
microseconds, less than a thread hop); on PostgreSQL they go to a thread.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, event
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import QueuePool

from scim_server.settings import Settings
from scim_server.store.checkpoint import Checkpointer

T = TypeVar("T")
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open on the connection

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def now() -> datetime:
    return datetime.now(UTC)


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``; SQLite hands datetimes back naive (they are stored in UTC)."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def new_id() -> str:
    return str(uuid.uuid4())


def driver_connection(conn: Connection) -> Any:
    """The DB-API connection under ``conn`` (sqlite3 or psycopg: ``Any``, as the dialects differ).

    SQLAlchemy types it optional because a pool entry that was closed has none; a connection
    we hold open always has one, so its absence is a bug, not a state to handle."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise RuntimeError("the connection has no DB-API connection (it was closed)")
    return raw


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every model here is a plain declarative class over one ``Table`` (no mapping to joins or
    # selects), so the SQL modules can hand ``Model.__table__`` to insert/update/delete.
    __table__: ClassVar[Table]


def _sqlite_pragmas(synchronous: str, cache_mib: int) -> Callable[..., None]:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT; we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute(f"PRAGMA cache_size=-{cache_mib * 1024}")  # in KiB when negative
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
        size = settings.database_pool_size
        engine = create_engine(url, pool_size=size, max_overflow=size, pool_pre_ping=True)
        event.listen(engine, "before_cursor_execute", _flush_before)
        return engine
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 10},
        poolclass=QueuePool,
        pool_size=1 if writer else 8,
        max_overflow=4 if writer else 8,
    )
    event.listen(engine, "connect", _sqlite_pragmas(settings.sqlite_synchronous, settings.sqlite_cache_mib))
    begin_sql = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if not driver_connection(conn).in_transaction:
            conn.exec_driver_sql(begin_sql)

    return engine


@dataclass
class _Unit:
    fn: Callable[[Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


@dataclass
class _GroupCommitWriter:
    """One thread that owns the SQLite write connection and commits in batches.

    The connection is kept for the thread's life and the batch transaction, the per-unit
    savepoints and the commit are issued on the DBAPI connection directly: through
    SQLAlchemy they cost more CPU than the units themselves. A unit may still use
    SQLAlchemy on the connection it is given (it joins the open transaction).
    """

    engine: Engine
    batch_max: int
    checkpointer: Checkpointer | None = None  # when set, this thread's commits never checkpoint
    _queue: queue.SimpleQueue[_Unit | None] = field(default_factory=queue.SimpleQueue)
    _thread: threading.Thread | None = None
    _conn: Connection | None = None

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
        try:
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
                if self.checkpointer is None:
                    self._commit_batch(batch)
                else:
                    with self.checkpointer.gate:  # uncontended unless the WAL is over its limit
                        self._commit_batch(batch)
        finally:
            if self._conn is not None:
                self._conn.close()

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.engine.connect()
            if self.checkpointer is not None:
                driver_connection(self._conn).execute("PRAGMA wal_autocheckpoint=0")
        return self._conn

    def _commit_batch(self, batch: list[_Unit]) -> None:
        try:
            conn = self._connection()
            raw = driver_connection(conn)
            raw.execute("BEGIN IMMEDIATE")
            outcomes = _run_plain(conn, batch)
            if isinstance(outcomes, _Failed):  # roll everything back; run again, each unit alone
                self._rollback(conn, raw)
                raw.execute("BEGIN IMMEDIATE")
                outcomes = [
                    (False, outcomes.error) if i == outcomes.index else _run_in_savepoint(conn, raw, unit.fn)
                    for i, unit in enumerate(batch)
                ]
            if conn.in_transaction():  # a unit used SQLAlchemy: it commits its view too
                conn.commit()
            if raw.in_transaction:
                raw.commit()
        except BaseException as exc:  # noqa: BLE001 (the commit itself failed: nobody's write is durable)
            self._abandon()
            _resolve_all([(unit, False, exc) for unit in batch])
            return
        _resolve_all([(unit, ok, value) for unit, (ok, value) in zip(batch, outcomes)])
        if self.checkpointer is not None:
            self.checkpointer.committed(len(batch))

    @staticmethod
    def _rollback(conn: Connection, raw: Any) -> None:
        if conn.in_transaction():
            conn.rollback()
        if raw.in_transaction:
            raw.rollback()

    def _abandon(self) -> None:
        """Roll back whatever is open; a connection that cannot is dropped."""
        try:
            if self._conn is not None:
                self._rollback(self._conn, driver_connection(self._conn))
        except Exception:  # noqa: BLE001 (any failure: the connection is dropped)
            if self._conn is not None:
                self._conn.invalidate()
                self._conn.close()
            self._conn = None


@dataclass(frozen=True, slots=True)
class _Failed:
    index: int
    error: Exception


def _run_plain(conn: Connection, batch: list[_Unit]) -> list[tuple[bool, Any]] | _Failed:
    """Every unit in the open transaction, no savepoints; stops at the first that raises."""
    outcomes: list[tuple[bool, Any]] = []
    for index, unit in enumerate(batch):
        try:
            outcomes.append((True, unit.fn(conn)))
        except Exception as exc:  # noqa: BLE001 (any error is that unit's outcome, handed to its caller)
            return _Failed(index, exc)
    return outcomes


def _run_in_savepoint(conn: Connection, raw: Any, fn: Callable[[Connection], Any]) -> tuple[bool, Any]:
    raw.execute("SAVEPOINT unit")
    try:
        value = fn(conn)
    except Exception as exc:  # noqa: BLE001 (any error is that unit's outcome, handed to its caller)
        raw.execute("ROLLBACK TO unit")
        raw.execute("RELEASE unit")
        return False, exc
    raw.execute("RELEASE unit")
    return True, value


def _resolve_all(results: list[tuple[_Unit, bool, Any]]) -> None:
    """Settle a batch's futures with one ``call_soon_threadsafe`` per event loop: each call
    writes to the loop's wake-up pipe (a system call), which cost more than a unit's SQL."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Unit, bool, Any]]] = {}
    for result in results:
        by_loop.setdefault(result[0].loop, []).append(result)
    for loop, settled in by_loop.items():
        loop.call_soon_threadsafe(_settle, settled)


def _settle(results: list[tuple[_Unit, bool, Any]]) -> None:
    for unit, ok, value in results:
        if unit.future.cancelled():
            continue
        if ok:
            unit.future.set_result(value)
        else:
            unit.future.set_exception(value)


class _InlineReader:
    """The SQLite connection reads use on the event loop: kept open, so a read costs its
    queries plus ``BEGIN``/``ROLLBACK`` (a pooled SQLAlchemy connection and transaction
    cost ~0.3 ms more). One read at a time; a concurrent caller (another thread) gets
    ``None`` from ``try_run`` and takes a pooled connection instead."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def try_run(self, fn: Callable[[Connection], T]) -> tuple[bool, T | None]:
        if not self._lock.acquire(blocking=False):
            return False, None
        try:
            conn = self._conn
            if conn is None or conn.closed or conn.invalidated:
                conn = self._conn = self.engine.connect()
            raw = driver_connection(conn)
            raw.execute("BEGIN")  # deferred: one snapshot from the first read on
            try:
                return True, fn(conn)
            finally:
                if conn.in_transaction():  # fn used SQLAlchemy, which joined the transaction
                    conn.rollback()
                if raw.in_transaction:
                    raw.rollback()
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class _ThreadConnections:
    """Worker threads that each keep one connection (PostgreSQL).

    A pooled checkout with ``pool_pre_ping`` plus ``BEGIN``/``ROLLBACK`` costs three round
    trips before a point query's one. Readers run in autocommit: under READ COMMITTED every
    statement takes its own snapshot anyway, so a read sees exactly what it saw inside a
    transaction, and its connection is never left idle in one. A connection idle for
    ``PING_AFTER`` seconds is checked before use (what ``pool_pre_ping`` does on every
    checkout), and a read that finds its connection broken reconnects and runs once more.
    """

    PING_AFTER = 10.0

    def __init__(self, engine: Engine, threads: int, name: str, *, autocommit: bool) -> None:
        self.engine, self.autocommit = engine, autocommit
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._local = threading.local()
        self._all: list[Connection] = []
        self._lock = threading.Lock()

    async def run(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)

    def connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not (conn.closed or conn.invalidated):
            if time.monotonic() - self._local.used < self.PING_AFTER or _alive(conn):
                self._local.used = time.monotonic()
                return conn
            self.discard(conn)
        conn = self.engine.connect()
        if self.autocommit:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        with self._lock:
            self._all.append(conn)
        self._local.conn, self._local.used = conn, time.monotonic()
        return conn

    def discard(self, conn: Connection) -> None:
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        conn.invalidate()
        conn.close()
        self._local.conn = None

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


def _alive(conn: Connection) -> bool:
    try:
        conn.exec_driver_sql("SELECT 1")
        if conn.in_transaction():
            conn.rollback()
        return True
    except Exception:  # noqa: BLE001 (any failure means: not usable)
        return False


def _broken(conn: Connection) -> bool:
    """Whether the DBAPI connection is gone (psycopg: ``broken``/``closed``)."""
    if conn.invalidated or conn.closed:
        return True
    raw = conn.connection.driver_connection
    return bool(getattr(raw, "broken", False) or getattr(raw, "closed", False))


class Database:
    """The application's handle on storage: engines plus the read/write entry points.

    ``write(fn)`` runs ``fn(conn)`` inside a transaction and returns its result once
    committed; an exception raised by ``fn`` rolls back everything ``fn`` did and is
    re-raised to the caller. ``fn`` may be run twice (on SQLite, when another unit of its
    batch fails, its first run is rolled back with the batch): it must have no effect
    outside the database it is given. ``read(fn)`` runs ``fn(conn)`` on a read-only snapshot.
    Use the ``*_sync`` variants from threads and CLI code.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings, writer=True)
        self.read_engine = make_engine(settings, writer=False) if settings.is_sqlite else self.engine
        self._writer: _GroupCommitWriter | None = None
        self._checkpointer: Checkpointer | None = None
        self._reader = _InlineReader(self.read_engine) if settings.is_sqlite else None
        self._pg_readers: _ThreadConnections | None = None
        self._pg_writers: _ThreadConnections | None = None
        # Reads and writes begun through ``read``/``write``: the audit sealer waits for a
        # moment when this stands still (audit/sealer.py).
        self.calls = 0

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def start(self) -> None:
        from scim_server.store import fastsql  # not at the top: its models import this module

        fastsql.compile_all(self.dialect)
        if self.settings.is_sqlite and self._writer is None:
            path = self.engine.url.database
            if path and path != ":memory:" and not path.startswith("file:"):
                self._checkpointer = Checkpointer(self.read_engine)
                self._checkpointer.start()
            self._writer = _GroupCommitWriter(self.engine, self.settings.write_batch_max, self._checkpointer)
            self._writer.start()
        if not self.settings.is_sqlite and self._pg_writers is None:
            # Of the pool (SCIM_BRIDGE_DATABASE_POOL_SIZE): a quarter for readers and half for
            # writers, each thread keeping its connection; the rest for *_sync callers.
            size = self.settings.database_pool_size
            self._pg_readers = _ThreadConnections(self.engine, size // 4, "pg-read", autocommit=True)
            self._pg_writers = _ThreadConnections(self.engine, size // 2, "pg-write", autocommit=True)  # _write_on

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer = None
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._reader is not None:
            self._reader.close()
        for threads in (self._pg_readers, self._pg_writers):
            if threads is not None:
                threads.close()
        self._pg_readers = self._pg_writers = None
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    async def write(self, fn: Callable[[Connection], T]) -> T:
        self.calls += 1
        if self._writer is not None:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[T] = loop.create_future()
            self._writer.submit(_Unit(fn, loop, future))
            return await future
        if self._pg_writers is not None:
            writers = self._pg_writers
            return await writers.run(lambda: _write_on(writers, fn))
        return await anyio.to_thread.run_sync(self.write_sync, fn)

    async def read(self, fn: Callable[[Connection], T]) -> T:
        self.calls += 1
        if self._reader is not None:
            done, value = self._reader.try_run(fn)
            return value if done else self.read_sync(fn)  # type: ignore[return-value]
        if self._pg_readers is not None:
            readers = self._pg_readers
            return await readers.run(lambda: _read_on(readers, fn))
        return await anyio.to_thread.run_sync(self.read_sync, fn)

    def write_sync(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.begin() as conn:
            return fn(conn)

    def read_sync(self, fn: Callable[[Connection], T]) -> T:
        with self.read_engine.connect() as conn:
            transaction = conn.begin()  # one snapshot for every statement of ``fn``, raw or not
            try:
                return fn(conn)
            finally:
                transaction.rollback()


def _read_on(readers: _ThreadConnections, fn: Callable[[Connection], T]) -> T:
    """``fn`` on this thread's autocommit connection; once more on a fresh one if the
    connection turns out to be broken (a read has no effect to repeat)."""
    for attempt in (1, 2):
        conn = readers.connection()
        try:
            return fn(conn)
        except Exception:
            if attempt == 2 or not _broken(conn):
                raise
            readers.discard(conn)
        finally:
            if not conn.closed and conn.in_transaction():
                conn.rollback()
    raise AssertionError("unreachable")


def _write_on(writers: _ThreadConnections, fn: Callable[[Connection], T]) -> T:
    """``fn`` in a transaction on this thread's connection, committed before returning.

    The connection is in autocommit mode and the transaction is ours: ``BEGIN`` is queued
    (psycopg's own BEGIN is a round trip of its own, even in pipeline mode) and goes with the
    unit's first statement; the statements ``fn`` deferred go with ``COMMIT`` (``pipeline``).
    SQLAlchemy's transaction on an autocommit connection only keeps its own state."""
    conn = writers.connection()
    raw = driver_connection(conn)
    conn.info[PENDING] = [("BEGIN", None)]
    try:
        with conn.begin():
            result = fn(conn)
            if conn.info[PENDING] != [("BEGIN", None)]:  # else the unit sent nothing: nothing to commit
                pipeline(conn, "COMMIT")
            return result
    except BaseException:
        conn.info[PENDING] = None
        if not _broken(conn) and raw.info.transaction_status != _IDLE:
            raw.execute("ROLLBACK")
        raise
    finally:
        if _broken(conn):
            writers.discard(conn)
        conn.info.pop(PENDING, None)


# ---------------------------------------------------------------------------- PostgreSQL round trips
# A SCIM write on PostgreSQL used to cost 5-6 round trips (BEGIN, read, write, audit, outbox,
# COMMIT), each a wake-up of this process and of the server. Inside a ``Database.write`` unit,
# a statement whose result nobody reads (the audit event, the outbox, value rows, an UPDATE of a
# row the unit holds locked) is queued instead (``fastsql.defer``) and sent in pipeline mode
# with the unit's next statement that needs an answer, or with its COMMIT: a PATCH is then the
# locking read (with BEGIN) and one more round trip. The statements still run in program order
# in the transaction; only an error of a queued one is raised later, by the statement it went
# with, so only statements that cannot fail on anything a client sends are deferred.

PENDING = "scim_bridge.pending"  # Connection.info key of the queued (sql, params) of the unit


def pending(conn: Connection) -> list[tuple[str, Any]] | None:
    """The statements queued on ``conn`` (PostgreSQL, inside a ``Database.write`` unit); None
    where statements run at once (SQLite, ``write_sync``, reads)."""
    queued: list[tuple[str, Any]] | None = conn.info.get(PENDING)
    return queued


def pipeline(conn: Connection, sql: str | None = None, params: Any = None, cursor: Any = None) -> None:
    """Run the queued statements and then ``sql`` (on ``cursor``, whose results the caller
    then fetches), all in one round trip; with nothing queued, a plain execute (entering
    pipeline mode costs CPU)."""
    queued = conn.info.get(PENDING)
    raw = driver_connection(conn)
    cursor = cursor if cursor is not None else raw.cursor()
    if not queued:
        if sql is not None:
            cursor.execute(sql, params)
        return
    with raw.pipeline():
        if queued:
            side = raw.cursor()  # the caller's cursor keeps ``sql``'s results alone
            for text, values in queued:
                side.execute(text, values)
            queued.clear()
        if sql is not None:
            cursor.execute(sql, params)


def _flush_before(conn: Connection, *_: Any) -> None:
    """SQLAlchemy is about to run a statement: the queued ones go first (program order)."""
    if conn.info.get(PENDING):
        pipeline(conn)
