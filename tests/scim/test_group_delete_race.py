"""Concurrent deletes of one group: exactly one succeeds and is audited, as for users."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import Connection, text

from tests.scim.conftest import group_body, user_body
from tests.servers import RunningServer

CALLERS = 16


def _audited(server: RunningServer, action: str, target_id: str) -> int:
    def count(conn: Connection) -> int:
        query = text("SELECT count(*) FROM audit_events WHERE action = :action AND target_id = :id")
        return int(conn.execute(query, {"action": action, "id": target_id}).scalar_one())

    return server.db.read_sync(count)


def test_concurrent_deletes_of_a_group_answer_one_204(scim: httpx.Client, server: RunningServer) -> None:
    members = [scim.post("/Users", json=user_body()).json()["id"] for _ in range(3)]
    group_id = scim.post("/Groups", json=group_body(members=members)).json()["id"]
    start = threading.Barrier(CALLERS)

    def delete(_: int) -> int:
        start.wait()
        return scim.delete(f"/Groups/{group_id}").status_code

    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        statuses = sorted(pool.map(delete, range(CALLERS)))
    assert statuses == [204] + [404] * (CALLERS - 1)
    assert _audited(server, "scim.group.delete", group_id) == 1
    assert scim.get(f"/Groups/{group_id}").status_code == 404
    assert all(scim.get(f"/Users/{m}").json().get("groups") is None for m in members)
