"""The scheduler queues each app's check when due, once; one leader at a time; and the
`scim-bridge worker` process runs queued jobs without any HTTP face."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from connectors.sandbox import SandboxClient
from scim_server.jobs import queue
from scim_server.jobs.scheduler import Scheduler
from scim_server.settings import Settings
from scim_server.store import apps as app_store
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database, now
from scim_server.vault import Vault


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    migrate.upgrade(db_url)
    database = Database(Settings(database_url=db_url))
    yield database
    database.close()


def _app(db: Database, vault: Vault, schedule: str = "daily", base: str | None = None, org: str | None = None) -> tuple[int, str]:
    org = org or f"acme-{uuid.uuid4().hex[:8]}"  # one app per business: each app its own org
    ws = db.write_sync(lambda c: tenancy.ensure_workspace(c, "sched"))
    values = {"kind": "github", "label": "x", "business_id": org, "login_method": "sso",
              "account_secret": vault.seal({"api_token": "t0k"}), "account_fields": ["api_token"],
              "api_base_url": base, "deprovision_policy": "report", "schedule": schedule,
              "mass_removal_count": 10, "mass_removal_percent": 20}  # fmt: skip
    return ws, db.write_sync(lambda c: app_store.create_app_row(c, ws, values)).id


def _checks(db: Database, ws: int) -> list[queue.JobRecord]:
    return [j for j in db.read_sync(lambda c: queue.list_jobs(c, ws)) if j.kind == "check"]


def test_due_apps_get_one_check_and_a_next_time(db: Database) -> None:
    vault = Vault(Settings(secret_key=Fernet.generate_key().decode()))
    ws, app_id = _app(db, vault)
    _app(db, vault, schedule="manual")  # a manual app is never due
    leader = Scheduler(db, name="leader")
    assert db.write_sync(leader._tick) == 1
    assert db.write_sync(leader._tick) == 0  # not due again until tomorrow
    checks = _checks(db, ws)
    assert [j.app_id for j in checks] == [app_id]
    app = db.read_sync(lambda c: app_store.get_app(c, ws, app_id))
    assert app.next_check is not None
    assert app.next_check.replace(tzinfo=None) > (now() + timedelta(hours=23)).replace(tzinfo=None)


def test_one_leader_at_a_time_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lead.db'}"
    migrate.upgrade(url)
    db = Database(Settings(database_url=url))
    try:
        vault = Vault(Settings(secret_key=Fernet.generate_key().decode()))
        ws, _ = _app(db, vault)
        first, second = Scheduler(db, name="first"), Scheduler(db, name="second")
        assert db.write_sync(first._tick) == 1
        _app(db, vault)  # another app becomes due
        assert db.write_sync(second._tick) == 0  # the first still holds the lease
        assert db.write_sync(first._tick) == 1
        assert len(_checks(db, ws)) == 2
    finally:
        db.close()


def test_worker_process_runs_queued_jobs(tmp_path: Path, vendor_sandbox: str) -> None:
    sandbox = SandboxClient(vendor_sandbox)
    sandbox.seed("github", {"org": "wrk", "token": "t0k", "members": [
        {"email": "a@example.com", "name": "a", "role": "member", "status": "active"}]})  # fmt: skip
    key = Fernet.generate_key().decode()
    url = f"sqlite:///{tmp_path / 'worker.db'}"
    migrate.upgrade(url)
    db = Database(Settings(database_url=url))
    try:
        ws, app_id = _app(db, Vault(Settings(secret_key=key)), schedule="manual", base=f"{vendor_sandbox}/github", org="wrk")
        job_id = db.write_sync(lambda c: queue.enqueue(c, ws, "check", {}, app_id=app_id))
        env = os.environ | {"SCIM_BRIDGE_DATABASE_URL": url, "SCIM_BRIDGE_SECRET_KEY": key,
                            "SCIM_BRIDGE_WORKER_POLL_SECONDS": "0.2"}  # fmt: skip
        proc = subprocess.Popen([sys.executable, "-m", "scim_server.cli", "worker", "--no-scheduler"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while (job := db.read_sync(lambda c: queue.get(c, ws, job_id))).status in ("queued", "running"):
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        assert job.status == "completed" and job.result["imported"] == 1
        emails = db.read_sync(lambda c: list(c.execute(select(app_store.app_members.c.email)).scalars()))
        assert emails == ["a@example.com"]
    finally:
        db.close()
        sandbox.close()
