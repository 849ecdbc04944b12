"""Helpers for the conformance tests: a few admin and SCIM calls that assert their status."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.sandbox import SandboxClient
from tests.admin.helpers import wait_job

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
TOO_BIG = "x" * 1_100_000  # above the default max_payload_size (1 MiB)


def ok(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.text}"
    )
    return response.json() if response.content else None


def scim_user(scim: httpx.Client, email: str) -> str:
    body = {
        "schemas": [USER],
        "userName": email,
        "emails": [{"value": email, "type": "work", "primary": True}],
    }
    return str(ok(scim.post("/Users", json=body), 201)["id"])


def connect(admin: httpx.Client, sandbox: SandboxClient, org: str, token: str, **extra: Any) -> str:
    body = {"kind": "github", "label": "Eng", "business_id": org, "automation_account": {"api_token": token},
            "api_base_url": sandbox.kind_url("github")} | extra  # fmt: skip
    return str(ok(admin.post("/apps", json=body), 201)["id"])


def by_email(admin: httpx.Client, app_id: str, state: str | None = None) -> dict[str, dict[str, Any]]:
    params = {"state": state} if state else {}
    return {m["email"]: m for m in ok(admin.get(f"/apps/{app_id}/members", params=params), 200)["items"]}


def check(admin: httpx.Client, app_id: str) -> dict[str, Any]:
    job = wait_job(admin, ok(admin.post(f"/apps/{app_id}/check"), 202)["job_id"])
    assert job["status"] == "completed", job
    return job


def pages(admin: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Walk a cursor-paginated list one item per page; the cursor must lead through all of it."""
    items, cursor = [], None
    while True:
        body = ok(admin.get(path, params=params | {"limit": 1} | ({"cursor": cursor} if cursor else {})), 200)
        items += body["items"]
        if (cursor := body["next_cursor"]) is None:
            return items
