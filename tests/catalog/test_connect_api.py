"""The catalog through the admin API: members' login method (both, a default per kind, changeable),
each kind's own automation-account fields (Apple's key triple, TikTok's password login)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from connectors.sandbox import SandboxClient
from connectors.sandbox.apple import team_credentials
from connectors.sandbox.tiktok_business_portal import APP_ID, APP_SECRET, PORTAL_PASSWORD
from tests.admin.helpers import wait_job

TIKTOK = "tiktok_business"


def _bc(sandbox: SandboxClient) -> dict[str, str]:
    bc, token = str(7_000_000_000_000_000_000 + uuid.uuid4().int % 10**15), uuid.uuid4().hex
    bot = f"bot-{bc[-6:]}@example.com"
    sandbox.seed(TIKTOK, {"org": bc, "token": token, "members": [
        {"email": bot, "role": "ADMIN", "status": "active"},
        {"email": "ada@example.com", "role": "STANDARD", "status": "active"},
    ]})  # fmt: skip
    return {"bc": bc, "token": token, "bot": bot}


def _connect_tiktok(admin: httpx.Client, sandbox: SandboxClient, bc: dict[str, str], account: dict[str, str],
                    **extra: Any) -> httpx.Response:  # fmt: skip
    return admin.post("/apps", json={"kind": TIKTOK, "label": "Ads", "business_id": bc["bc"],
                                     "automation_account": account, "api_base_url": sandbox.kind_url(TIKTOK),
                                     **extra})  # fmt: skip


def test_the_catalog_offers_both_login_methods_for_every_kind(admin: httpx.Client) -> None:
    items = {i["kind"]: i for i in admin.get("/catalog").json()["items"]}
    assert len(items) == 8
    for kind, item in items.items():
        refused = {u["method"] for u in item["unavailable_login_methods"]}
        assert set(item["login_methods"]) | refused == {"sso", "password"}, kind
        assert item["default_login_method"] in item["login_methods"], kind
        assert item["credential_sets"] and item["account_fields"], kind
    assert items[TIKTOK]["login_methods"] == ["sso", "password"]
    assert {"username", "password", "phone"} <= set(items[TIKTOK]["account_fields"])
    assert items["apple"]["account_fields"] == ["private_key", "key_id", "issuer_id"]


def test_tiktok_connects_without_a_login_method_and_with_sso_and_it_can_be_changed(
    admin: httpx.Client, sandbox: SandboxClient
) -> None:
    bc = _bc(sandbox)
    default = _connect_tiktok(admin, sandbox, bc, {"api_token": bc["token"]})
    assert default.status_code == 201, default.text
    assert default.json()["login_method"] == "password"  # the catalog's default for TikTok
    app_id = default.json()["id"]
    patched = admin.patch(f"/apps/{app_id}", json={"login_method": "sso"})
    assert patched.status_code == 200, patched.text
    assert admin.get(f"/apps/{app_id}").json()["login_method"] == "sso"
    assert admin.patch(f"/apps/{app_id}", json={"login_method": "magic"}).status_code == 400
    assert admin.delete(f"/apps/{app_id}").status_code == 204

    sso = _connect_tiktok(admin, sandbox, bc, {"api_token": bc["token"]}, login_method="sso")
    assert sso.status_code == 201, sso.text
    assert sso.json()["login_method"] == "sso"


def test_tiktok_password_login_with_phone_connects_members_on_sso(admin: httpx.Client,
                                                                  sandbox: SandboxClient) -> None:  # fmt: skip
    """The automation account logs in with its password (App Authorization in Chromium) while the
    members sign in through the IdP: the two are independent."""
    bc = _bc(sandbox)
    account = {"username": bc["bot"], "password": PORTAL_PASSWORD, "phone": "+15550100", "app_id": APP_ID,
               "app_secret": APP_SECRET}  # fmt: skip
    response = _connect_tiktok(admin, sandbox, bc, account, login_method="sso")
    assert response.status_code == 201, response.text
    app = response.json()
    assert app["login_method"] == "sso" and "phone" in app["automation_account"]["fields"]
    assert PORTAL_PASSWORD not in response.text and APP_SECRET not in response.text


def test_tiktok_account_fields_are_checked_per_kind(admin: httpx.Client, sandbox: SandboxClient) -> None:
    bc = _bc(sandbox)
    missing = _connect_tiktok(admin, sandbox, bc, {"username": bc["bot"], "password": "x", "app_id": APP_ID})
    assert missing.status_code == 400 and "app_secret" in missing.json()["error"]["message"]
    foreign = _connect_tiktok(admin, sandbox, bc, {"api_token": bc["token"], "private_key": "k"})
    assert foreign.status_code == 400 and "private_key" in foreign.json()["error"]["message"]
    assert admin.get("/apps").json()["items"] == []


def test_apple_connects_with_its_own_catalog_fields(admin: httpx.Client, sandbox: SandboxClient) -> None:
    key_id = f"KEY{uuid.uuid4().hex[:7].upper()}"
    sandbox.seed("apple", {"org": f"team-{key_id}", "token": key_id, "members": [
        {"email": "holder@example.com", "name": "Hold Er", "role": "ACCOUNT_HOLDER", "status": "active"}]})  # fmt: skip
    creds = team_credentials(key_id)
    assert creds.private_key is not None
    account = {"private_key": creds.private_key.reveal(), "key_id": str(creds.key_id),
               "issuer_id": str(creds.issuer_id)}  # fmt: skip
    body = {"kind": "apple", "label": "App Store", "automation_account": account,
            "api_base_url": sandbox.kind_url("apple")}  # fmt: skip
    alone = admin.post("/apps", json=body | {"automation_account": {"api_token": "t"}})
    assert alone.status_code == 400 and "api_token" in alone.json()["error"]["message"]
    response = admin.post("/apps", json=body)
    assert response.status_code == 201, response.text
    app = response.json()
    assert app["automation_account"] == {"fields": ["issuer_id", "key_id", "private_key"]}
    assert "PRIVATE KEY" not in response.text
    assert app["login_method"] == "password"
    check = admin.post(f"/apps/{app['id']}/check")
    assert check.status_code == 202
    assert wait_job(admin, check.json()["job_id"])["status"] == "completed"
    members = admin.get(f"/apps/{app['id']}/members", params={"state": "unmatched"}).json()["items"]
    assert [m["email"] for m in members] == ["holder@example.com"]
