"""The mass-removal guard over a sliding window, over HTTP against the sandbox on both databases:
removals sent one by one still trip it once the window holds too many; when it trips, the burst's
removals not yet started are withdrawn and held with it; a lone deactivation is planned at once
(no debounce)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select, text

from connectors.sandbox import SandboxClient
from scim_server import reconcile
from scim_server.jobs import queue
from scim_server.store import apps as app_store
from tests.admin.helpers import check, connect, remote_emails, scim_user, unique, wait_idle
from tests.jobs.test_cancel import hold_app_slot
from tests.servers import RunningServer

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OFF = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}


def six(admin: httpx.Client, sandbox: SandboxClient, scim_client: httpx.Client) -> tuple[str, str, list[str], list[str]]:
    org, token = unique("org"), unique("ghp")
    people = [f"p{n}@example.com" for n in range(6)]
    sandbox.seed("github", {"org": org, "token": token, "members": [
        {"email": e, "name": e.split("@")[0], "role": "member", "status": "active"} for e in people]})  # fmt: skip
    ids = [scim_user(scim_client, e) for e in people]
    app_id = connect(admin, sandbox, {"org": org, "token": token}, policy="automatic")
    assert admin.patch(f"/apps/{app_id}", json={"mass_removal_guard": {"count": 2, "percent": 30}}).status_code == 200
    check(admin, app_id)
    return org, app_id, people, ids


def held_entries(admin: httpx.Client, app_id: str) -> list[dict[str, Any]]:
    reports = admin.get("/reports", params={"app_id": app_id, "status": "pending"}).json()["items"]
    return [e for r in reports for e in r["entries"] if e["status"] == "held"]


def test_removals_sent_one_by_one_trip_the_window(
    admin: httpx.Client, sandbox: SandboxClient, scim_client: httpx.Client
) -> None:
    """Each deactivation planned and carried out before the next: a per-plan guard never sees
    more than one removal; the window sees the third and holds it, and the fourth."""
    org, app_id, people, ids = six(admin, sandbox, scim_client)
    for user_id in ids[:4]:
        assert scim_client.patch(f"/Users/{user_id}", json=OFF).status_code == 200
        wait_idle(admin, app_id)
    assert remote_emails(sandbox, org) == set(people) - set(people[:2])
    held = held_entries(admin, app_id)
    assert len(held) == 2
    reports = admin.get("/reports", params={"app_id": app_id, "status": "pending"}).json()["items"]
    assert "within 5 minutes" in reports[0]["held_reason"], reports[0]["held_reason"]


def test_a_tripped_window_withdraws_the_removals_not_started(
    server: RunningServer, admin: httpx.Client, sandbox: SandboxClient, scim_client: httpx.Client
) -> None:
    """Four removals queued (the app's slots are held by another process, so none starts), then
    a fifth deactivation trips the window: the four queued jobs are cancelled and all five held."""
    org, app_id, people, ids = six(admin, sandbox, scim_client)
    releases: list[Callable[[], None]] = [hold_app_slot(server, app_id), hold_app_slot(server, app_id)]
    ws = server.db.read_sync(lambda c: c.execute(text("SELECT workspace_id FROM apps WHERE id = :a"), {"a": app_id}).scalar())

    def plan(conn: Any) -> dict[str, Any]:  # what the app's reconcile job does, run here while it cannot
        app = app_store.get_app(conn, ws, app_id)
        return reconcile.persist(conn, ws, reconcile.load(conn, ws, app), "test")

    assert admin.patch(f"/apps/{app_id}", json={"mass_removal_guard": {"count": 10, "percent": 100}}).status_code == 200
    for user_id in ids[:4]:
        assert scim_client.patch(f"/Users/{user_id}", json=OFF).status_code == 200
    queued = server.db.write_sync(plan)["jobs"]
    assert len(queued) == 4
    assert admin.patch(f"/apps/{app_id}", json={"mass_removal_guard": {"count": 2, "percent": 30}}).status_code == 200
    assert scim_client.patch(f"/Users/{ids[4]}", json=OFF).status_code == 200
    assert server.db.write_sync(plan)["jobs"] == []
    statuses = server.db.read_sync(lambda c: c.execute(
        select(queue.jobs.c.status).where(queue.jobs.c.id.in_(queued))).scalars().all())  # fmt: skip
    assert statuses == ["cancelled"] * 4
    for release in releases:
        release()
    wait_idle(admin, app_id)
    assert remote_emails(sandbox, org) == set(people)  # nothing removed: the burst is held as a whole
    assert len(held_entries(admin, app_id)) == 5


def test_a_lone_deactivation_is_planned_at_once(
    server: RunningServer, admin: httpx.Client, sandbox: SandboxClient, scim_client: httpx.Client
) -> None:
    org, app_id, people, ids = six(admin, sandbox, scim_client)
    assert scim_client.patch(f"/Users/{ids[0]}", json=OFF).status_code == 200
    jobs = queue.jobs
    rows = server.db.read_sync(lambda c: c.execute(
        select(jobs.c.created, jobs.c.run_after).where(jobs.c.app_id == app_id, jobs.c.kind == "reconcile")).all())  # fmt: skip
    assert rows and all(row.run_after <= row.created for row in rows), rows
    wait_idle(admin, app_id)
    assert remote_emails(sandbox, org) == set(people[1:])
