"""Other processes use a SQLite database while ``serve`` writes to it.

The server must never touch SQLite's ``-wal``/``-shm`` files itself: closing a descriptor of
one drops every POSIX lock the process holds on it, the next process to open the database
resets the wal-index, and the server dies of SIGBUS in its next commit
(https://www.sqlite.org/howtocorrupt.html, section 2.2). Everything here runs as a real
process against a server under write load, as an operator would run it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.serve_process import ServeProcess, cli, cli_env, serve

SQLITE3 = "/usr/bin/sqlite3"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


@dataclass
class Load:
    """SCIM creates from a few threads until stopped; every answer is kept."""

    server: ServeProcess
    created: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.server.token}"}
        with httpx.Client(base_url=self.server.scim, headers=headers, timeout=30) as client:
            while not self._stop.is_set():
                body = {"schemas": [USER_SCHEMA], "userName": f"load-{uuid.uuid4().hex}"}
                try:
                    response = client.post("/Users", json=body)
                    outcome = (
                        None
                        if response.status_code == 201
                        else f"{response.status_code} {response.text[:200]}"
                    )
                except httpx.TransportError as exc:
                    outcome = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    if outcome is None:
                        self.created += 1
                    else:
                        self.failures.append(outcome)

    def wait_for_more(self, count: int, seconds: float = 60) -> None:
        """Until ``count`` more creates succeed (the server is writing right now)."""
        target, deadline = self.created + count, time.monotonic() + seconds
        while self.created < target:
            assert self.server.alive(), self.server.died_of()
            assert not self.failures, self.failures[:5]
            assert time.monotonic() < deadline, f"load stalled at {self.created} creates"
            time.sleep(0.01)


@contextmanager
def write_load(server: ServeProcess, threads: int = 4) -> Iterator[Load]:
    load = Load(server)
    workers = [threading.Thread(target=load.run, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    try:
        load.wait_for_more(100)
        yield load
    finally:
        load._stop.set()
        for worker in workers:
            worker.join(timeout=60)


def sqlite3_cli(database: Path, *commands: str) -> str:
    done = subprocess.run(
        [SQLITE3, "-bail", str(database), *commands], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"sqlite3 {commands} exited {done.returncode}: {done.stderr}"
    return done.stdout


def integrity(database: Path) -> str:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_other_processes_use_the_database_while_serve_writes(tmp_path: Path) -> None:
    database = tmp_path / "shared.db"
    env = cli_env(f"sqlite:///{database}")
    with serve(env, tmp_path) as server, write_load(server) as load:
        created = cli(env, "token", "create", "--workspace", "default", "--label", "while-serving")
        token = created.strip().splitlines()[-1]
        token_id = created.split()[1]
        new_token = {"Authorization": f"Bearer {token}"}
        load.wait_for_more(100)

        listed = cli(env, "token", "list")
        assert f"{token_id}\tdefault\tscim\tactive" in listed and token not in listed
        load.wait_for_more(100)

        users = int(sqlite3_cli(database, "select count(*) from scim_users").strip())
        assert users >= 200
        load.wait_for_more(100)

        backup = tmp_path / "backup.db"
        sqlite3_cli(database, f".backup '{backup}'")
        assert integrity(backup) == "ok"
        with closing(sqlite3.connect(backup)) as conn:
            assert conn.execute("select count(*) from scim_users").fetchone()[0] >= users
        load.wait_for_more(100)

        with serve(env, tmp_path, "second") as second:
            body = {"schemas": [USER_SCHEMA], "userName": "made-by-the-second-server"}
            made = httpx.post(second.scim + "/Users", json=body, headers=new_token, timeout=30)
            assert made.status_code == 201, made.text
            load.wait_for_more(100)
        load.wait_for_more(200)  # the first server goes on committing after the second has gone

        assert integrity(database) == "ok"
        load.wait_for_more(100)
        assert server.alive(), server.died_of()
        found = httpx.get(server.scim + f"/Users/{made.json()['id']}", headers=new_token, timeout=30)
        assert found.status_code == 200, found.text  # the new token works; the second's write is here
    assert not load.failures, load.failures[:5]
    assert "Fatal Python error" not in server.stderr.read_text()
    assert integrity(database) == "ok"
