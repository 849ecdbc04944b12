"""Every governance operation and every SCIM write leaves exactly one event by its caller (job
outcomes are the job's own events), on both databases, through the real HTTP faces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from connectors.sandbox import SandboxClient
from scim_server.store import tenancy
from tests.admin.conftest import github, sandbox  # noqa: F401  (fixtures)
from tests.admin.helpers import members, scim_user, wait_idle, wait_job
from tests.audit.test_api import USER_SCHEMA, _all
from tests.servers import RunningServer

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def test_each_operation_leaves_exactly_one_event(server: RunningServer, workspace: str, sandbox: SandboxClient,  # noqa: F811
                                                 github: dict[str, Any]) -> None:  # noqa: F811  # fmt: skip
    (admin_id, admin_token), (scim_id, scim_token) = (
        server.db.write_sync(lambda conn, s=scope: tenancy.create_token(conn, workspace, s)) for scope in ("admin", "scim"))  # type: ignore[misc]
    bearer = {"Authorization": f"Bearer {server.token(workspace, 'audit')}"}
    with httpx.Client(base_url=server.url, headers=bearer, timeout=60) as audit, \
         httpx.Client(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {admin_token}"}, timeout=60) as admin, \
         httpx.Client(base_url=server.scim, headers={"Authorization": f"Bearer {scim_token}"}, timeout=60) as scim:  # fmt: skip

        def once(actor: str, action: str, call: Callable[[], httpx.Response], events: int = 1) -> httpx.Response:
            before = {e["seq"] for e in _all(audit, actor=actor)}
            response = call()
            assert response.status_code < 300, response.text
            new = [e["action"] for e in _all(audit, actor=actor) if e["seq"] not in before]
            assert len(new) == events and all(a.startswith(action) for a in new), (action, new)
            return response

        ada = once(scim_id, "scim.user.create", lambda: scim.post("/Users", json={
            "schemas": [USER_SCHEMA], "userName": "ada@example.com", "active": True,
            "emails": [{"value": "ada@example.com", "primary": True}]})).json()["id"]  # fmt: skip
        grace = scim_user(scim, "grace@example.com")
        once(scim_id, "scim.user.patch", lambda: scim.patch(f"/Users/{ada}", json={
            "schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "CFO"}]}))
        once(scim_id, "scim.user.replace", lambda: scim.put(f"/Users/{ada}", json={
            "schemas": [USER_SCHEMA], "userName": "ada@example.com", "active": True, "title": "CEO",
            "emails": [{"value": "ada@example.com", "primary": True}]}))  # fmt: skip
        group = once(scim_id, "scim.group.create", lambda: scim.post("/Groups", json={
            "schemas": [GROUP], "displayName": "eng"})).json()["id"]
        once(scim_id, "scim.group.patch", lambda: scim.patch(f"/Groups/{group}", json={
            "schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": ada}]}]}))
        bulk = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "b1", "data": {"schemas": [USER_SCHEMA], "userName": "b1@example.com"}},
            {"method": "POST", "path": "/Users", "bulkId": "b2", "data": {"schemas": [USER_SCHEMA], "userName": "b2@example.com"}}]}  # fmt: skip
        once(scim_id, "scim.user.create", lambda: scim.post("/Bulk", json=bulk), events=2)  # one per operation

        app_id = once(admin_id, "app.connect", lambda: admin.post("/apps", json={
            "kind": "github", "label": "Eng", "business_id": github["org"],
            "automation_account": {"api_token": github["token"]}, "api_base_url": sandbox.kind_url("github")})).json()["id"]  # fmt: skip
        job = once(admin_id, "app.check", lambda: admin.post(f"/apps/{app_id}/check")).json()["job_id"]
        assert wait_job(admin, job)["status"] == "completed"
        wait_idle(admin, app_id)
        bot = members(admin, app_id, "unmatched")["bot@example.com"]["id"]
        agency = members(admin, app_id, "unmatched")["agency@outside.example"]["id"]
        once(admin_id, "app.member.exempt", lambda: admin.post(f"/apps/{app_id}/members/{bot}/exempt", json={"reason": "CI"}))
        once(admin_id, "app.member.unexempt", lambda: admin.post(f"/apps/{app_id}/members/{bot}/unexempt"))
        once(admin_id, "app.member.match", lambda: admin.post(f"/apps/{app_id}/members/{bot}/match",
                                                              json={"user_id": grace, "bridge_role": "collaborator"}))  # fmt: skip
        once(admin_id, "app.member.remove", lambda: admin.post(f"/apps/{app_id}/members/{agency}/remove"))
        wait_idle(admin, app_id)
        rule = once(admin_id, "app.rule.create", lambda: admin.post(f"/apps/{app_id}/rules", json={
            "group_id": group, "bridge_role": "collaborator"})).json()["id"]
        once(admin_id, "app.rule.delete", lambda: admin.delete(f"/apps/{app_id}/rules/{rule}"))
        once(admin_id, "app.configure", lambda: admin.patch(f"/apps/{app_id}", json={"label": "Engineering"}))
        wait_idle(admin, app_id)
        once(scim_id, "scim.group.delete", lambda: scim.delete(f"/Groups/{group}"))
        once(scim_id, "scim.user.delete", lambda: scim.delete(f"/Users/{grace}"))
