"""``kill -9`` of the server while several removals are in flight at once (one per app, the
worker running them together) loses none: after a restart each completes, once (SQLite file that
outlives the process; the fixtures of ``tests/admin/test_crash.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.sandbox import SandboxClient
from tests.admin.helpers import check, connect, members, remote_emails, scim_user, unique
from tests.admin.test_crash import PATCH, Process, _clients
from tests.waiting import wait_for

APPS = 3


@pytest.fixture
def process(tmp_path: Path) -> Iterator[Process]:
    proc = Process(tmp_path)
    yield proc
    proc.stop()


def test_kill9_with_several_removals_in_flight(process: Process, sandbox: SandboxClient) -> None:
    orgs = []
    for _ in range(APPS):
        org, token = unique("org"), unique("ghp")
        sandbox.seed("github", {"org": org, "token": token, "members": [
            {"email": "grace@example.com", "name": "grace", "role": "member", "status": "active"},
            {"email": "ada@example.com", "name": "ada", "role": "admin", "status": "active"}]})  # fmt: skip
        orgs.append((org, token))
    process.start()
    scim, admin = _clients(process)
    user = scim_user(scim, "grace@example.com")
    apps = []
    for org, token in orgs:
        app_id = connect(admin, sandbox, {"org": org, "token": token}, policy="automatic")
        check(admin, app_id)
        assert "grace@example.com" in members(admin, app_id, "matched")
        apps.append(app_id)

    def running_removals() -> int:
        jobs = admin.get("/jobs", params={"status": "running", "limit": 100}).json()["items"]
        return sum(j["kind"] == "remove" for j in jobs)

    sandbox.faults("github", latency_ms=1500)  # each removal stays in flight long enough
    body = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    assert scim.patch(f"/Users/{user}", json=body).status_code == 200
    wait_for(lambda: running_removals() >= 2, timeout=60)  # several at once in one process
    process.kill9()
    sandbox.clear_faults()
    process.start()
    scim, admin = _clients(process)
    for (org, _), app_id in zip(orgs, apps, strict=True):
        wait_for(lambda org=org: "grace@example.com" not in remote_emails(sandbox, org), timeout=60)
        wait_for(lambda app_id=app_id: [j["status"] for j in admin.get("/jobs", params={"app_id": app_id}).json()["items"]
                                        if j["kind"] == "remove"] == ["completed"], timeout=60)  # fmt: skip
        assert "ada@example.com" in remote_emails(sandbox, org)
