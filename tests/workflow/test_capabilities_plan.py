"""Capabilities reach the plan, end to end (issue 10): through the admin API, on SQLite and
PostgreSQL, against the sandbox. A Calendly (or Asana) member whose rules want another role (neither
can change roles) is a conflict in ``GET /plan`` with the member id and the reason, no
``change_role`` job is queued, and the next reconcile queues none either; a ``change_role`` job that
reaches the handler anyway fails with the typed error, not ``AttributeError``."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import httpx
import pytest

from connectors.sandbox import SandboxClient
from mapping import KIND_CAPABILITIES, ChangeRole
from scim_server import reconcile
from scim_server.jobs import queue
from scim_server.store import tenancy
from tests.admin.helpers import check, members, scim_user, wait_idle, wait_job
from tests.servers import RunningServer

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


NO_ROLE_CHANGE = {  # kind -> (a fresh org id, the seeded role, the role a rule wants)
    "calendly": (lambda: uuid.uuid4().hex[:16].upper(), "user", "admin"),
    "asana": (lambda: str(10**15 + secrets.randbelow(9 * 10**15)), "member", "admin"),
}


def test_these_are_the_kinds_that_cannot_change_roles() -> None:
    assert set(NO_ROLE_CHANGE) == {k for k, able in KIND_CAPABILITIES.items() if "change_role" not in able}


def _seed(sandbox: SandboxClient, kind: str) -> dict[str, str]:
    new_org, plain, _ = NO_ROLE_CHANGE[kind]
    org, token = new_org(), f"{kind}-{uuid.uuid4().hex[:8]}"
    sandbox.seed(kind, {"org": org, "token": token, "members": [
        {"email": "dev@example.com", "name": "Dev", "role": plain, "status": "active"},
    ]})  # fmt: skip
    return {"kind": kind, "org": org, "token": token}


@pytest.fixture
def calendly(sandbox: SandboxClient) -> dict[str, str]:
    return _seed(sandbox, "calendly")


def _connect(admin: httpx.Client, sandbox: SandboxClient, seeded: dict[str, str]) -> str:
    kind = seeded["kind"]
    response = admin.post("/apps", json={"kind": kind, "label": kind.title(), "business_id": seeded["org"],
                                         "automation_account": {"api_token": seeded["token"]},
                                         "api_base_url": sandbox.kind_url(kind)})  # fmt: skip
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _jobs(admin: httpx.Client, app_id: str, kind: str) -> list[dict[str, Any]]:
    return [j for j in admin.get("/jobs", params={"app_id": app_id, "limit": 500}).json()["items"] if j["kind"] == kind]


def _role_conflicts(admin: httpx.Client, app_id: str) -> list[dict[str, Any]]:
    plan = admin.get(f"/apps/{app_id}/plan")
    assert plan.status_code == 200, plan.text
    assert not [a for a in plan.json()["actions"] if a["type"] == "changerole"]
    return [c for c in plan.json()["conflicts"] if c["capability"] == "change_role"]


@pytest.mark.parametrize("kind", sorted(NO_ROLE_CHANGE))
def test_a_role_the_kind_cannot_change_is_a_conflict_in_the_plan_and_never_a_job(
    kind: str, admin: httpx.Client, scim: httpx.Client, sandbox: SandboxClient
) -> None:
    seeded = _seed(sandbox, kind)
    _, plain, wanted = NO_ROLE_CHANGE[kind]
    dev = scim_user(scim, "dev@example.com")
    group = scim.post("/Groups", json={"schemas": [GROUP], "displayName": "Admins", "members": [{"value": dev}]})
    assert group.status_code == 201, group.text
    app_id = _connect(admin, sandbox, seeded)
    check(admin, app_id)
    member_id = members(admin, app_id, "matched")["dev@example.com"]["id"]

    rule = admin.post(f"/apps/{app_id}/rules", json={"group_id": group.json()["id"], "bridge_role": "owner",
                                                     "app_role": wanted})  # fmt: skip
    assert rule.status_code == 201, rule.text
    assert rule.json()["jobs"] == []  # the rule adopts the member; the role change is not queued
    (conflict,) = _role_conflicts(admin, app_id)
    assert conflict["kind"] == "unsupported" and conflict["member_id"] == member_id and conflict["user_id"] == dev
    assert f"{kind} cannot change a member's role" in conflict["detail"] and repr(wanted) in conflict["detail"]
    shown = members(admin, app_id, "matched")["dev@example.com"]["conflicts"]  # and on the member itself
    assert shown == [{"kind": "unsupported", "detail": conflict["detail"], "capability": "change_role"}]

    check(admin, app_id)  # the next reconcile does not queue it either
    wait_idle(admin, app_id)
    assert _jobs(admin, app_id, "change_role") == []
    assert [c["member_id"] for c in _role_conflicts(admin, app_id)] == [member_id]
    assert admin.get(f"/apps/{app_id}/members/{member_id}").json()["conflicts"][0]["capability"] == "change_role"
    remote = {m["email"]: m for m in sandbox.state(kind, seeded["org"])["members"]}
    assert remote["dev@example.com"]["role"] == plain


def test_a_change_role_job_on_calendly_fails_with_the_typed_error(
    server: RunningServer, workspace: str, admin: httpx.Client, sandbox: SandboxClient, calendly: dict[str, str]
) -> None:
    """A job queued before the plan knew (or by a caller that did not ask ``can``) fails once, typed."""
    app_id = _connect(admin, sandbox, calendly)
    check(admin, app_id)
    member = members(admin, app_id, "unmatched")["dev@example.com"]  # no directory user: nothing planned
    action = ChangeRole(member["id"], member["remote_id"], "user", "admin")

    def enqueue(conn: Any) -> str:
        ws = tenancy.workspace_id(conn, workspace)
        return queue.enqueue(conn, ws, "change_role", reconcile.action_payload(action), app_id=app_id)

    job = wait_job(admin, server.db.write_sync(enqueue))
    assert job["status"] == "failed" and job["attempts"] == 1, job  # UnsupportedCapability is never retried
    assert job["error"] == "calendly change_role failed: calendly cannot change role"
    remote = {m["email"]: m for m in sandbox.state("calendly", calendly["org"])["members"]}
    assert remote["dev@example.com"]["role"] == "user"
