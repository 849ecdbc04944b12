"""TikTok: removing a Business Center member who holds asset access completes and verifies.

The verifying re-read calls ``bc/asset/member/get/``, which TikTok refuses (40002) without an
``asset_type``; the connector must use the asset's real type (the one imported by the check)."""

from __future__ import annotations

import uuid

import httpx

from connectors.sandbox import SandboxClient
from tests.admin.helpers import check, members, wait_job

KIND = "tiktok_business"
API = "/open_api/v1.3"


def _seed(sandbox: SandboxClient) -> dict[str, str]:
    bc, token = str(7_100_000_000_000_000_000 + uuid.uuid4().int % 10**15), uuid.uuid4().hex
    sandbox.seed(KIND, {
        "org": bc, "token": token,
        "members": [{"email": "bot@example.com", "role": "ADMIN", "status": "active"},
                    {"email": "grace@example.com", "name": "Grace", "role": "STANDARD", "status": "active"},
                    {"email": "alan@example.com", "name": "Alan", "role": "STANDARD", "status": "active"}],
        "assets": [{"id": f"{bc[-8:]}01", "name": "Ads", "type": "ADVERTISER",
                    "grants": [{"email": "grace@example.com", "permission": "OPERATOR"},
                               {"email": "alan@example.com", "permission": "ANALYST"}]},
                   {"id": f"{bc[-8:]}02", "name": "Catalog", "type": "CATALOG",
                    "grants": [{"email": "grace@example.com", "permission": "ADMIN"}]}],
    })  # fmt: skip
    return {"bc": bc, "token": token}


def test_the_sandbox_refuses_an_empty_asset_type_as_tiktok_does(sandbox: SandboxClient) -> None:
    bc = _seed(sandbox)
    with httpx.Client(base_url=sandbox.kind_url(KIND) + API, headers={"Access-Token": bc["token"]}) as raw:
        body = raw.get("/bc/asset/member/get/", params={"bc_id": bc["bc"], "asset_type": "",
                                                        "asset_id": f"{bc['bc'][-8:]}01"}).json()  # fmt: skip
    assert body["code"] == 40002 and "asset_type" in body["message"]


def test_removing_a_member_with_asset_access_completes_and_verifies(admin: httpx.Client,
                                                                    sandbox: SandboxClient) -> None:  # fmt: skip
    bc = _seed(sandbox)
    connected = admin.post("/apps", json={"kind": KIND, "label": "Ads", "business_id": bc["bc"],
                                          "automation_account": {"api_token": bc["token"]},
                                          "api_base_url": sandbox.kind_url(KIND)})  # fmt: skip
    assert connected.status_code == 201, connected.text
    app_id = connected.json()["id"]
    check(admin, app_id)
    grace = members(admin, app_id, "unmatched")["grace@example.com"]
    assert {a["asset_id"] for a in grace["assets"]} == {f"{bc['bc'][-8:]}01", f"{bc['bc'][-8:]}02"}

    response = admin.post(f"/apps/{app_id}/members/{grace['id']}/remove")
    assert response.status_code == 202, response.text
    job = wait_job(admin, response.json()["job_id"])
    assert job["status"] == "completed", job

    state = sandbox.state(KIND, bc["bc"])
    assert "grace@example.com" not in {m["email"] for m in state["members"]}
    assert "grace@example.com" not in members(admin, app_id, "unmatched")
    assets = admin.get(f"/apps/{app_id}/assets").json()["items"]
    holders = {p["remote_id"] for a in assets for p in a["permissions"]}
    assert grace["remote_id"] not in holders and len(holders) == 1  # Alan keeps his access
