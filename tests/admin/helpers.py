"""Small helpers for admin API tests: wait for a job, create directory users over SCIM."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from connectors.sandbox import SandboxClient

TERMINAL = {"completed", "failed", "cancelled"}


def wait_job(admin: httpx.Client, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """The job's final view: asks the server to hold the answer until the job ends (``?wait=``),
    so the test wakes on the job's end, not on a timer."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        job = admin.get(f"/jobs/{job_id}", params={"wait": max(0.0, min(left, 30.0))}).json()
        if job["status"] in TERMINAL:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}: {job}"


def wait_idle(admin: httpx.Client, app_id: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Wait until the app has no queued or running job; returns all its jobs. Waits on each
    unfinished job's end in turn (a job may queue another, so the list is read again after)."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = admin.get("/jobs", params={"app_id": app_id, "limit": 500}).json()["items"]
        pending = [j for j in jobs if j["status"] not in TERMINAL]
        if not pending:
            return jobs
        assert time.monotonic() < deadline, f"jobs still running: {pending}"
        wait_job(admin, pending[0]["id"], deadline - time.monotonic())


def scim_user(scim: httpx.Client, email: str, active: bool = True) -> str:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email, "active": active,
            "emails": [{"value": email, "type": "work", "primary": True}]}  # fmt: skip
    response = scim.post("/Users", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def connect(admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any], policy: str = "report") -> str:
    response = admin.post("/apps", json={"kind": "github", "label": "Eng", "business_id": github["org"],
                                         "automation_account": {"api_token": github["token"]},
                                         "api_base_url": sandbox.kind_url("github"), "deprovision_policy": policy})  # fmt: skip
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def check(admin: httpx.Client, app_id: str) -> dict[str, Any]:
    response = admin.post(f"/apps/{app_id}/check")
    assert response.status_code == 202
    job = wait_job(admin, response.json()["job_id"])
    assert job["status"] == "completed", job
    return job


def members(admin: httpx.Client, app_id: str, state: str) -> dict[str, dict[str, Any]]:
    items = admin.get(f"/apps/{app_id}/members", params={"state": state}).json()["items"]
    return {m["email"]: m for m in items}


def remote_emails(sandbox: SandboxClient, org: str) -> set[str]:
    return {m["email"] for m in sandbox.state("github", org)["members"]}
