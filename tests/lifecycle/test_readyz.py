"""``/readyz``: ready only when the database answers with the current schema and the process is
not draining; ``serve`` drains on SIGTERM (503 on /readyz while still serving) and then exits."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from scim_server.app import create_app
from scim_server.settings import Settings
from scim_server.store import migrate
from scim_server.store.db import Database
from tests.serve_process import cli_env, serve
from tests.servers import free_port, serve_asgi


def _readyz(url: str) -> httpx.Response:
    return httpx.get(url + "/readyz", timeout=10)


def test_ready_on_the_current_schema_and_not_when_behind(db_url: str) -> None:
    migrate.upgrade(db_url)
    settings = Settings(database_url=db_url, run_worker=False, access_log=False)
    db = Database(settings)
    app = create_app(settings, database=db)
    with serve_asgi(app) as url:
        ready = _readyz(url)
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        engine = create_engine(db_url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        engine.dispose()
        behind = _readyz(url)
        assert behind.status_code == 503 and behind.json()["status"] == "schema not current"
        assert behind.json()["current"] == ["0001"]
        assert httpx.get(url + "/healthz").status_code == 200  # alive all the same

        app.state.readiness.draining = True
        assert _readyz(url).json() == {"status": "draining"}


def test_not_ready_when_the_database_is_unreachable() -> None:
    closed = free_port()  # nothing listens there
    url = f"postgresql+psycopg://nobody:s3cret-pw@127.0.0.1:{closed}/gone"
    settings = Settings(database_url=url, run_worker=False, access_log=False)
    app = create_app(settings, database=Database(settings))
    with serve_asgi(app) as base:
        answer = _readyz(base)
        assert answer.status_code == 503 and answer.json() == {"status": "database unreachable"}
        assert "s3cret" not in answer.text and "nobody" not in answer.text
        assert httpx.get(base + "/healthz").status_code == 200


def test_serve_drains_on_sigterm_then_exits(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'drain.db'}") | {
        "SCIM_BRIDGE_SHUTDOWN_DRAIN_SECONDS": "60",  # the test ends the drain with a second signal
        "SCIM_BRIDGE_SECRET_KEY_FILE": str(tmp_path / "key"),
    }
    with serve(env, tmp_path) as running:
        auth = {"Authorization": f"Bearer {running.token}"}
        assert _readyz(running.url).status_code == 200
        running.proc.send_signal(signal.SIGTERM)
        # Draining: out of rotation, yet every request is still served.
        while _readyz(running.url).status_code == 200:
            assert running.alive(), running.died_of()
        assert _readyz(running.url).json() == {"status": "draining"}
        for _ in range(20):
            assert httpx.get(running.scim + "/Users", headers=auth, timeout=10).status_code == 200
        assert running.alive()
        running.proc.send_signal(signal.SIGTERM)  # a second signal cuts the drain short
        try:
            status = running.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError("serve did not exit after the drain") from None
        assert status in (0, -signal.SIGTERM), running.died_of()
