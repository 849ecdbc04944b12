"""End to end through the admin API: a Meta Business Manager token never reaches a log record, a
response, a job's error or result, or the audit trail (table and export), on SQLite and PostgreSQL.

The server and its worker run in this process, so ``caplog`` at DEBUG on the root logger sees
everything they log (httpx's request lines included) while the app is connected, checked, its token
rotated, a member removed, and jobs forced to fail (an expired token, a removal the vendor ignores).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from connectors.sandbox import SandboxClient
from scim_server.store.models import AuditEvent
from tests.admin.helpers import check, members, wait_job
from tests.leaks import find_leaks, record_texts
from tests.servers import RunningServer

KIND = "meta_business"


@pytest.fixture
def business(sandbox: SandboxClient) -> dict[str, str]:
    org, token = str(10**12 + secrets.randbelow(10**12)), secrets.token_hex(20)
    sandbox.seed(KIND, {"org": org, "token": token, "members": [
        {"email": "ada@example.com", "name": "Ada", "role": "ADMIN", "status": "active"},
        {"email": "agency@outside.example", "name": "Agency", "role": "EMPLOYEE", "status": "active"},
    ]})  # fmt: skip
    return {"org": org, "token": token}


def connect(admin: httpx.Client, sandbox: SandboxClient, org: str, token: str) -> httpx.Response:
    return admin.post("/apps", json={"kind": KIND, "label": "Ads", "business_id": org,
                                     "automation_account": {"api_token": token},
                                     "api_base_url": sandbox.kind_url(KIND)})  # fmt: skip


def failing(admin: httpx.Client, sandbox: SandboxClient, path: str, **faults: Any) -> dict[str, Any]:
    """The job ``POST path`` queues, run under ``faults``: it must fail (without a retry)."""
    sandbox.faults(KIND, **faults)
    try:
        job = wait_job(admin, admin.post(path).json()["job_id"])
    finally:
        sandbox.clear_faults()
    assert job["status"] == "failed" and job["error"], job
    return job


def test_the_meta_token_is_never_logged_stored_or_answered(
    server: RunningServer, admin: httpx.Client, sandbox: SandboxClient, business: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    org, token = business["org"], business["token"]
    rotated, unknown = secrets.token_hex(20), secrets.token_hex(20)
    sandbox.seed(KIND, {"org": org, "token": rotated})
    answers: list[str] = []
    with caplog.at_level(logging.DEBUG):
        refused = connect(admin, sandbox, org, unknown)
        assert refused.status_code == 422, refused.text
        connected = connect(admin, sandbox, org, token)
        assert connected.status_code == 201, connected.text
        app_id = connected.json()["id"]
        check(admin, app_id)
        agency = members(admin, app_id, "unmatched")["agency@outside.example"]
        removal = f"/apps/{app_id}/members/{agency['id']}/remove"
        failures = [failing(admin, sandbox, f"/apps/{app_id}/check", expire_tokens=True),
                    failing(admin, sandbox, removal, ignore_removals=True)]
        assert wait_job(admin, admin.post(removal).json()["job_id"])["status"] == "completed"
        rotate = admin.patch(f"/apps/{app_id}", json={"automation_account": {"api_token": rotated}})
        assert rotate.status_code == 200, rotate.text
        check(admin, app_id)
        answers += [refused.text, connected.text, rotate.text, admin.get(f"/apps/{app_id}").text,
                    admin.get("/jobs", params={"app_id": app_id, "limit": 500}).text,
                    admin.get("/audit/export", params={"format": "jsonl"}).text]
    assert "expired" in failures[0]["error"] and "still present" in failures[1]["error"]  # the reasons, named
    rows = server.db.read_sync(lambda conn: conn.execute(select(AuditEvent.__table__)).all())
    assert rows, "the audit trail is empty"
    texts = record_texts(caplog.records) + answers + [repr(tuple(row)) for row in rows]
    assert find_leaks(texts, [token, rotated, unknown]) == []
