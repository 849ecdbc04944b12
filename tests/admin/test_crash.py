"""``kill -9`` of the server during a deprovision push, or while a removal is running, loses
nothing: after a restart the removal completes (transactional outbox + leased jobs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from connectors.sandbox import SandboxClient
from tests.admin.helpers import check, connect, members, remote_emails, scim_user, unique
from tests.servers import free_port
from tests.waiting import wait_for

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CLI = [sys.executable, "-m", "scim_server.cli"]


class Process:
    """scim-bridge serve in a child process on a SQLite file that outlives it."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.env = os.environ | {
            "SCIM_BRIDGE_DATABASE_URL": f"sqlite:///{tmp / 'crash.db'}",
            "SCIM_BRIDGE_SECRET_KEY": Fernet.generate_key().decode(),
            "SCIM_BRIDGE_WORKER_LEASE_SECONDS": "2", "SCIM_BRIDGE_WORKER_POLL_SECONDS": "0.2",
            "SCIM_BRIDGE_RETRY_BASE_SECONDS": "0.1", "SCIM_BRIDGE_ACCESS_LOG": "false",
        }  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def token(self, scope: str) -> str:
        out = subprocess.run(CLI + ["token", "create", "--workspace", "crash", "--scope", scope],
                             env=self.env, capture_output=True, text=True, check=True)  # fmt: skip
        return out.stdout.strip().splitlines()[-1]

    def start(self) -> None:
        """Start ``serve`` and return once it answers: first wait on its banner (printed after the
        migration, the slow part of a cold start on a loaded machine: no deadline to guess), then
        on ``/healthz`` (the listener comes up right after)."""
        self.proc = subprocess.Popen(CLI + ["serve", "--port", str(self.port)], env=self.env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("SCIM base URL"):
                break
        else:
            raise AssertionError(f"serve exited ({self.proc.wait()}) before printing its base URL")
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and self.proc.poll() is None, "server did not start"
            time.sleep(0.1)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@pytest.fixture
def process(tmp_path: Path) -> Iterator[Process]:
    proc = Process(tmp_path)
    yield proc
    proc.stop()


def _clients(process: Process) -> tuple[httpx.Client, httpx.Client]:
    base = f"http://127.0.0.1:{process.port}"
    scim = httpx.Client(base_url=base + "/scim/v2", headers={"Authorization": f"Bearer {process.token('scim')}"}, timeout=30)
    admin = httpx.Client(base_url=base + "/api/v1", headers={"Authorization": f"Bearer {process.token('admin')}"}, timeout=30)
    return scim, admin


def _setup(process: Process, sandbox: SandboxClient) -> tuple[httpx.Client, httpx.Client, str, dict[str, str]]:
    org, token = unique("org"), unique("ghp")
    sandbox.seed("github", {"org": org, "token": token, "members": [
        {"email": "grace@example.com", "name": "grace", "role": "member", "status": "active"},
        {"email": "ada@example.com", "name": "ada", "role": "admin", "status": "active"}]})  # fmt: skip
    process.start()
    scim, admin = _clients(process)
    user = scim_user(scim, "grace@example.com")
    app_id = connect(admin, sandbox, {"org": org, "token": token}, policy="automatic")
    check(admin, app_id)
    assert "grace@example.com" in members(admin, app_id, "matched")
    return scim, admin, user, {"org": org, "app_id": app_id}


@pytest.mark.parametrize("moment", ["right_after_the_push", "while_the_removal_runs"])
def test_kill9_loses_no_deprovision(process: Process, sandbox: SandboxClient, moment: str) -> None:
    scim, admin, user, ids = _setup(process, sandbox)
    sandbox.faults("github", latency_ms=1500)  # keep the removal in flight long enough to kill it
    body = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    assert scim.patch(f"/Users/{user}", json=body).status_code == 200  # acknowledged
    if moment == "while_the_removal_runs":
        wait_for(lambda: any(j["kind"] == "remove" and j["status"] == "running"
                             for j in admin.get("/jobs", params={"app_id": ids["app_id"]}).json()["items"]),
                 timeout=60)  # fmt: skip
    process.kill9()
    sandbox.clear_faults()
    process.start()
    wait_for(lambda: "grace@example.com" not in remote_emails(sandbox, ids["org"]), timeout=60)
    wait_for(lambda: any(j["kind"] == "remove" and j["status"] == "completed"
                         for j in admin.get("/jobs", params={"app_id": ids["app_id"]}).json()["items"]),
             timeout=60)  # fmt: skip
    assert "ada@example.com" in remote_emails(sandbox, ids["org"])


def test_kill9_with_jobs_of_several_kinds_in_flight(process: Process, sandbox: SandboxClient) -> None:
    """A check of one app and two removals of another (its per-app cap) in flight when the
    process dies, the first app's reconcile still queued behind its check: after a restart each completes once, nobody else is touched,
    and a later deactivation still goes out (the change feed's cursor survived the crash)."""
    people = ("grace", "linus", "joan", "ada")
    orgs: list[tuple[str, str]] = []
    for _ in range(2):
        org, token = unique("org"), unique("ghp")
        sandbox.seed("github", {"org": org, "token": token, "members": [
            {"email": f"{p}@example.com", "name": p, "role": "admin" if p == "ada" else "member", "status": "active"}
            for p in people]})  # fmt: skip
        orgs.append((org, token))
    process.start()
    scim, admin = _clients(process)
    users = {p: scim_user(scim, f"{p}@example.com") for p in people[:3]}
    apps = []
    for org, token in orgs:
        app_id = connect(admin, sandbox, {"org": org, "token": token}, policy="automatic")
        check(admin, app_id)
        apps.append(app_id)

    def running() -> list[dict[str, str]]:
        return [j for j in admin.get("/jobs", params={"status": "running", "limit": 100}).json()["items"]]

    sandbox.faults("github", latency_ms=1500)  # every vendor call slow: the jobs stay in flight
    assert admin.post(f"/apps/{apps[1]}/check").status_code == 202  # the second app's reconcile waits for it
    off = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": False}]}
    for p in ("grace", "linus"):
        assert scim.patch(f"/Users/{users[p]}", json=off).status_code == 200
    wait_for(lambda: sorted(j["kind"] for j in running()) == ["check", "remove", "remove"], timeout=60)
    process.kill9()
    sandbox.clear_faults()
    process.start()
    scim, admin = _clients(process)

    def settled(app_id: str) -> bool:
        jobs = admin.get("/jobs", params={"app_id": app_id, "limit": 100}).json()["items"]
        return all(j["status"] in ("completed", "cancelled") for j in jobs)

    for org, _ in orgs:
        wait_for(lambda org=org: remote_emails(sandbox, org) == {"joan@example.com", "ada@example.com"}, timeout=120)
    for app_id in apps:
        wait_for(lambda app_id=app_id: settled(app_id), timeout=120)
        removals = [j for j in admin.get("/jobs", params={"app_id": app_id, "limit": 100}).json()["items"]
                    if j["kind"] == "remove"]  # fmt: skip
        assert sorted(j["status"] for j in removals) == ["completed", "completed"], removals
    assert scim.patch(f"/Users/{users['joan']}", json=off).status_code == 200
    for org, _ in orgs:
        wait_for(lambda org=org: remote_emails(sandbox, org) == {"ada@example.com"}, timeout=120)
