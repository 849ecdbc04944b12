"""WAL checkpoints on a thread of their own, off the SQLite writer's path.

SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1000 pages: that
commit, and every write queued behind it, waits while ~4 MB are copied into the database
file and the file is fsynced (several milliseconds). The group-commit writer turns its own
automatic checkpoints off (``PRAGMA wal_autocheckpoint=0``) and, after each commit, tells a
``Checkpointer`` how many units it committed; the checkpointer runs ``PRAGMA
wal_checkpoint(PASSIVE)`` on a connection of its own, which never blocks the writer or a
reader. Durability is unchanged: a commit is on disk once the WAL is fsynced, whenever its
pages reach the database file.

When to run is decided without looking at SQLite's files. Opening and closing the ``-shm``
(or ``-wal``) file from this process would drop every POSIX lock the process holds on it
(https://www.sqlite.org/howtocorrupt.html, section 2.2); the next process to open the database
then believes nobody uses the wal-index, truncates it, and this process dies of SIGBUS on its
mapping. The pragma itself reports ``(busy, log, checkpointed)``: the WAL's frame count and how
many of them are in the database file. From two successive reports and the units committed in
between, the checkpointer learns frames per unit, and runs once the units committed since its
last run amount to ``pages`` frames, or ``interval`` seconds after the first of them.

A PASSIVE checkpoint copies what is committed when it starts, and the WAL starts again from its
beginning only when a write transaction begins with every frame copied: a checkpoint must end
in the moment between one commit and the next BEGIN, which it rarely does while writes keep
coming (even one at a time), and the WAL would grow for as long as they do. So once the pragma
reports more than ``limit`` frames, the checkpointer runs a second PASSIVE at once while holding
``gate``, the lock the writer takes around each batch: the writer waits while the few frames
committed during the first are copied (once per ``limit`` frames, against SQLite's copy of every
1000 inside a commit), and its next batch restarts the WAL.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine

log = logging.getLogger("scim_bridge.store")


@dataclass(frozen=True, slots=True)
class WalReport:
    """What ``PRAGMA wal_checkpoint`` answered (https://www.sqlite.org/pragma.html#pragma_wal_checkpoint)."""

    busy: bool  # the checkpoint could not run to completion (another checkpointer or a reader)
    frames: int  # frames in the WAL (since its last restart)
    checkpointed: int  # frames of them now copied into the database file

    @property
    def waiting(self) -> int:
        return self.frames - self.checkpointed


class Checkpointer:
    """Runs PASSIVE checkpoints for one database file; ``committed`` is the writer's only call.

    Thread-safe by construction: ``committed`` runs on the writer's thread and only adds to a
    counter and sets an event; everything else runs on the checkpointer's thread.
    """

    def __init__(
        self, engine: Engine, pages: int = 1000, interval: float = 1.0, limit: int | None = None
    ) -> None:
        self.engine = engine
        self.pages = pages
        self.interval = interval
        self.limit = limit if limit is not None else 4 * pages
        self.gate = threading.Lock()  # held by the writer around each batch; see the module docstring
        self.last: WalReport | None = None  # the last checkpoint's report
        self.frames_per_unit = float(pages)  # until the first report: the first commit is worth a checkpoint
        self._units = 0  # units committed, ever (written by the writer thread only)
        self._units_seen = 0  # ... as of the last checkpoint
        self._first_unseen_at: float | None = None
        self._poked = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def committed(self, units: int) -> None:
        """The writer committed ``units`` units of work (cheap; called after every batch)."""
        self._units += units
        self._poked.set()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping = True
            self._poked.set()
            self._thread.join(timeout=10)
            self._thread = None

    def due(self, now: float) -> bool:
        """Whether the units committed since the last run are worth ``pages`` frames, or the first
        of them has waited ``interval`` seconds."""
        unseen = self._units - self._units_seen
        if unseen <= 0:
            return False
        return (
            unseen * self.frames_per_unit >= self.pages
            or now - (self._first_unseen_at or now) >= self.interval
        )

    def _run(self) -> None:
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            while not self._stopping:
                self._poked.wait(self.interval)
                self._poked.clear()
                if self._stopping:
                    return
                now = time.monotonic()
                if self._first_unseen_at is None and self._units > self._units_seen:
                    self._first_unseen_at = now
                if self.due(now):
                    self._checkpoint(raw)

    def _checkpoint(self, raw: object) -> None:
        units = self._units
        try:
            report = _passive(raw)
            if report.frames > self.limit:  # the writer never paused: see the module docstring
                with self.gate:
                    report = _passive(raw)
        except Exception:  # the next commit tries again; meanwhile the WAL only grows
            log.warning("WAL checkpoint failed", exc_info=True)
            return
        self._learn(report, units - self._units_seen)
        self.last, self._units_seen, self._first_unseen_at = report, units, None

    def _learn(self, report: WalReport, units: int) -> None:
        """Frames per unit, from the frames added to the WAL since the last report (fewer frames
        than then: the WAL restarted, all are new)."""
        before = self.last.frames if self.last is not None else 0
        added = report.frames - before if report.frames >= before else report.frames
        if units > 0 and added > 0:
            self.frames_per_unit = added / units


def _passive(raw: object) -> WalReport:
    busy, frames, checkpointed = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()  # type: ignore[attr-defined]
    return WalReport(bool(busy), int(frames), int(checkpointed))
