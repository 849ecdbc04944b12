"""A SCIM user update that changes only attributes reconciliation never reads queues no reconcile
of the apps; one that changes ``active``, ``userName`` or ``emails`` does (both databases)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from connectors.sandbox import SandboxClient
from scim_server.jobs import queue
from scim_server.store.outbox import affects_apps
from tests.admin.helpers import check, connect, scim_user, wait_idle
from tests.servers import RunningServer

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(path: str, value: Any) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": [{"op": "replace", "path": path, "value": value}]}


def reconciles(server: RunningServer, app_id: str) -> int:
    jobs = queue.jobs
    query = select(func.count()).where(jobs.c.app_id == app_id, jobs.c.kind == "reconcile")
    return int(server.db.read_sync(lambda c: c.execute(query).scalar()))


def test_attribute_only_updates_queue_nothing(
    server: RunningServer, admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any],
    scim_client: httpx.Client,
) -> None:  # fmt: skip
    user = scim_user(scim_client, "grace@example.com")
    app_id = connect(admin, sandbox, github)
    check(admin, app_id)
    wait_idle(admin, app_id)
    before = reconciles(server, app_id)
    for path, value in (("title", "Engineer"), ("displayName", "Grace H."), ("name.familyName", "Hopper"),
                        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "R&D")):  # fmt: skip
        assert scim_client.patch(f"/Users/{user}", json=patch(path, value)).status_code == 200
    assert reconciles(server, app_id) == before
    assert scim_client.patch(f"/Users/{user}", json=patch("emails", [{"value": "g@example.com"}])).status_code == 200
    assert reconciles(server, app_id) == before + 1
    wait_idle(admin, app_id)
    assert scim_client.patch(f"/Users/{user}", json=patch("active", False)).status_code == 200
    assert reconciles(server, app_id) == before + 2


@pytest.mark.parametrize(
    ("action", "detail", "queued"),
    [
        ("scim.user.patch", {"changed": ["title"]}, False),
        ("scim.user.patch", {"password": "changed"}, False),
        ("scim.user.patch", {}, False),
        ("scim.user.replace", {"changed": ["displayName", "userName"]}, True),
        ("scim.user.patch", {"changed": ["active"]}, True),
        ("scim.user.patch", None, True),
        ("scim.user.create", {}, True),
        ("scim.user.delete", {"userName": "x"}, True),
        ("scim.group.patch", {"changed": ["displayName"]}, True),
    ],
)
def test_affects_apps(action: str, detail: dict[str, Any] | None, queued: bool) -> None:
    assert affects_apps(action, detail) is queued
