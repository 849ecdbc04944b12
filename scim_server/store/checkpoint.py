"""WAL checkpoints on a thread of their own, off the SQLite writer's path.

SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1000 pages: that
commit, and every write queued behind it, waits while ~4 MB are copied into the database
file and the file is fsynced (several milliseconds). The group-commit writer turns its own
automatic checkpoints off (``PRAGMA wal_autocheckpoint=0``) and pokes a ``Checkpointer``
after each commit; the checkpointer runs a PASSIVE checkpoint, which never blocks the writer
or a reader, once ``pages`` pages of the WAL are not yet in the database file. Durability is
unchanged: a commit is on disk once the WAL is fsynced, whenever its pages reach the
database file.

How many pages wait is read from the wal-index header in the ``-shm`` file
(https://www.sqlite.org/walformat.html, "The WAL-Index Header"): ``mxFrame`` (the last valid
frame) at byte 16 and ``nBackfill`` (frames already copied) at byte 96, both in native byte
order. The WAL file's size says nothing: SQLite rewrites it from the start, never shrinking it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

from sqlalchemy import Engine

log = logging.getLogger("scim_bridge.store")

_MX_FRAME, _N_BACKFILL = slice(16, 20), slice(96, 100)


class Checkpointer:
    def __init__(self, engine: Engine, database: Path, pages: int = 1000) -> None:
        self.engine = engine
        self.shm = Path(f"{database}-shm")
        self.pages = pages
        self._poked = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """A commit happened: look at the WAL soon (cheap; called after every batch)."""
        self._poked.set()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping = True
            self._poked.set()
            self._thread.join(timeout=10)
            self._thread = None

    def frames_waiting(self) -> int | None:
        """WAL frames not yet copied into the database file; None when the index is unreadable."""
        try:
            fd = os.open(self.shm, os.O_RDONLY)
            try:
                header = os.pread(fd, 100, 0)
            finally:
                os.close(fd)
        except OSError:
            return None
        if len(header) < 100:
            return None
        last, copied = (int.from_bytes(header[part], sys.byteorder) for part in (_MX_FRAME, _N_BACKFILL))
        return last - copied

    def _run(self) -> None:
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            while True:
                self._poked.wait()
                self._poked.clear()
                if self._stopping:
                    return
                waiting = self.frames_waiting()
                if waiting is not None and waiting < self.pages:
                    continue
                try:
                    raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # type: ignore[union-attr]
                except Exception:  # the next poke tries again; meanwhile the WAL only grows
                    log.warning("WAL checkpoint failed", exc_info=True)
