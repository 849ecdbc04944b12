"""The outbox hooks, on SQLite and PostgreSQL: what is recorded where a report gains entries, the
guard holds removals and a job fails for good; merged within a transaction, gone on rollback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Connection, insert, select

from mapping import AppMember
from scim_server.jobs import queue
from scim_server.notify.deliveries import Policy, dispatch, events
from scim_server.settings import Settings
from scim_server.store import migrate, tenancy
from scim_server.store import reports as report_store
from scim_server.store.app_models import App
from scim_server.store.db import Database, new_id, now


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> Iterator[Database]:
    migrate.upgrade(db_url)
    database = Database(Settings(database_url=db_url, access_log=False))
    yield database
    database.close()


def new_app(conn: Connection, name: str) -> tuple[int, str]:
    ws = tenancy.ensure_workspace(conn, name)
    app_id = new_id()
    conn.execute(insert(App.__table__).values(
        id=app_id, workspace_id=ws, kind="github", label="Eng", login_method="sso", account_secret="x",
        account_fields="[]", created=now(), updated=now()))  # fmt: skip
    return ws, app_id


def person(n: int) -> AppMember:
    return AppMember(new_id(), f"r{n}", f"p{n}@example.com", display_name=f"Person {n}", app_role="member")


def notices(db: Database) -> list[tuple[str, str, dict[str, Any]]]:
    rows = db.read_sync(lambda conn: conn.execute(select(events.c.kind, events.c.status, events.c.data)
                                                  .order_by(events.c.created)).all())  # fmt: skip
    return [(kind, status, orjson.loads(data)) for kind, status, data in rows]


def test_entries_in_one_transaction_make_one_message_naming_everyone(db: Database) -> None:
    def unit(conn: Connection) -> None:
        ws, app_id = new_app(conn, "w1")
        for n in range(3):
            report_store.add_entry(conn, ws, app_id, person(n), None, "deactivated", "pending")

    db.write_sync(unit)
    [(kind, status, data)] = notices(db)
    assert (kind, status) == ("report.opened", "open")
    assert [p["email"] for p in data["people"]] == ["p0@example.com", "p1@example.com", "p2@example.com"]
    assert data["app_label"] == "Eng" and data["opened"] is True


def test_a_rolled_back_change_notifies_nobody(db: Database) -> None:
    def unit(conn: Connection) -> None:
        ws, app_id = new_app(conn, "w2")
        report_store.add_entry(conn, ws, app_id, person(1), None, "deleted", "pending")
        raise RuntimeError("the change fails after the entry")

    with pytest.raises(RuntimeError):
        db.write_sync(unit)
    assert notices(db) == []


def test_guard_hold_and_later_entries(db: Database) -> None:
    ids: dict[str, Any] = {}

    def first(conn: Connection) -> None:
        ids["ws"], ids["app"] = new_app(conn, "w3")
        report_store.add_entry(conn, ids["ws"], ids["app"], person(1), None, "deactivated", "pending")

    db.write_sync(first)
    db.write_sync(lambda conn: dispatch(conn, now(), 0.0, email=True))  # the first message went out

    def burst(conn: Connection) -> None:
        for n in range(2, 5):
            report_store.add_entry(conn, ids["ws"], ids["app"], person(n), None, "deactivated", "held")
        report_store.hold(conn, ids["app"], "mass-removal guard: 3 removals exceed 2")

    db.write_sync(burst)
    (k1, s1, _), (k2, s2, held) = notices(db)
    assert (k1, s1, k2, s2) == ("report.opened", "dispatched", "guard.held", "open")
    assert held["held_reason"].startswith("mass-removal guard") and held["opened"] is False
    assert [p["held"] for p in held["people"]] == [True, True, True]


def test_a_job_failed_for_good_notifies_a_retried_one_does_not(db: Database) -> None:
    def setup(conn: Connection) -> str:
        ws, app_id = new_app(conn, "w4")
        return queue.enqueue(conn, ws, "remove", {"action": "remove", "member_id": "m1"}, app_id=app_id,
                             max_attempts=2)  # fmt: skip

    job_id = db.write_sync(setup)
    for retry in (now() - timedelta(seconds=1), None):
        job = db.write_sync(lambda conn: queue.claim(conn, "w", 30))
        assert job is not None and job.id == job_id
        db.write_sync(lambda conn, r=retry: queue.fail(conn, job_id, "w", "VendorUnavailable: 503", r))
        if retry is not None:
            assert notices(db) == []
    [(kind, _, data)] = notices(db)
    assert kind == "job.failed" and data["job_id"] == job_id and data["error"] == "VendorUnavailable: 503"


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = Policy(base=30, cap=600, max_attempts=12)
    assert [policy.delay(n).total_seconds() for n in range(1, 7)] == [30, 60, 120, 240, 480, 600]
