"""TikTok-specific behaviour of the connector and the fake: header auth, body error codes, paging,
``filtering``, per-asset-type role fields, and the catalog entry."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from connectors.base import Asset, AutomationAccount, Secret
from connectors.errors import AuthError, InvalidRequest, PermissionDenied, RateLimited, VendorUnavailable
from connectors.http import HTTPSettings
from connectors.registry import get_spec
from connectors.sandbox import SandboxClient
from connectors.tiktok_business import TikTokBusinessConnector, make_connector
from connectors.tiktok_business.client import TikTokClient, make_http
from tests.contracts import FAST_SETTINGS, collect

KIND, BC, TOKEN = "tiktok_business", "7000000000000000042", "0123456789abcdef0123456789abcdef01234567"
API = "/open_api/v1.3"


def build(sandbox: SandboxClient, token: str = TOKEN, settings: HTTPSettings = FAST_SETTINGS,
          bc_id: str = BC) -> TikTokBusinessConnector:
    return make_connector(base_url=sandbox.kind_url(KIND), account=AutomationAccount(api_token=Secret(token)),
                          business_id=bc_id, settings=settings)


@pytest.fixture
async def tiktok(sandbox: SandboxClient) -> AsyncIterator[TikTokBusinessConnector]:
    sandbox.seed(KIND, {"org": BC, "token": TOKEN})
    connector = build(sandbox)
    yield connector
    await connector.aclose()


def seed_members(sandbox: SandboxClient, active: int, pending: int = 0) -> list[str]:
    members = [{"email": f"u{n}@example.com", "role": "STANDARD", "status": "active"} for n in range(active)]
    members += [{"email": f"p{n}@example.com", "role": "STANDARD", "status": "pending"} for n in range(pending)]
    return sandbox.seed(KIND, {"org": BC, "members": members})


def raw(sandbox: SandboxClient) -> httpx.Client:
    return httpx.Client(base_url=sandbox.kind_url(KIND) + API, headers={"Access-Token": TOKEN})


def test_catalog_entry() -> None:
    spec = get_spec(KIND)
    assert spec.base_url == "https://business-api.tiktok.com" and spec.needs_business_id
    assert spec.login_methods == ("sso", "password") and spec.owner_roles == ("ADMIN",)
    assert {"api_token", "username", "password", "phone", "app_id", "app_secret"} == set(spec.account_fields)
    assert "Authorizes" in spec.capabilities and "GrantsAssets" in spec.capabilities


def test_a_business_center_id_is_required() -> None:
    with pytest.raises(InvalidRequest, match="bc_id"):
        make_connector(base_url="http://127.0.0.1:9", account=AutomationAccount(api_token=Secret("t")),
                       business_id=None, settings=FAST_SETTINGS)


async def test_a_bearer_prefix_is_an_invalid_token(tiktok: TikTokBusinessConnector, sandbox: SandboxClient) -> None:
    bearer = TikTokBusinessConnector(TikTokClient(make_http(sandbox.kind_url(KIND), Secret(f"Bearer {TOKEN}"),
                                                            FAST_SETTINGS), BC))
    try:
        with pytest.raises(AuthError) as caught:
            await bearer.check()
    finally:
        await bearer.aclose()
    assert caught.value.vendor_code == "40105" and TOKEN not in str(caught.value)
    await tiktok.check()  # the raw token works


async def test_check_refuses_a_business_center_the_token_does_not_reach(sandbox: SandboxClient) -> None:
    sandbox.seed(KIND, {"org": BC, "token": TOKEN})
    elsewhere = build(sandbox, bc_id="7000000000000000999")
    try:
        with pytest.raises(PermissionDenied):
            await elsewhere.check()
    finally:
        await elsewhere.aclose()


async def test_pages_with_the_requested_page_size(tiktok: TikTokBusinessConnector, sandbox: SandboxClient) -> None:
    ids = seed_members(sandbox, 23, 3)
    small = build(sandbox, settings=replace(FAST_SETTINGS, page_size=7))
    try:
        members = await collect(small.list_members())
    finally:
        await small.aclose()
    assert [m.remote_id for m in members] == ids
    assert [m.remote_id for m in await collect(tiktok.list_members())] == ids


def test_page_size_beyond_the_endpoint_maximum_is_40002(tiktok: object, sandbox: SandboxClient) -> None:
    with raw(sandbox) as client:
        too_big = client.get("/bc/member/get/", params={"bc_id": BC, "page_size": 21}).json()
        assets = client.get("/bc/asset/get/", params={"bc_id": BC, "asset_type": "ADVERTISER",
                                                      "page_size": 50}).json()
    assert too_big["code"] == 40002 and assets["code"] == 0


def test_filtering_is_a_json_string(tiktok: object, sandbox: SandboxClient) -> None:
    seed_members(sandbox, 3, 2)
    with raw(sandbox) as client:
        pending = client.get("/bc/member/get/", params={
            "bc_id": BC, "filtering": json.dumps({"relation_status": "PENDING"})}).json()["data"]
        broken = client.get("/bc/member/get/", params={"bc_id": BC, "filtering": "{not json"}).json()
    assert [r["relation_status"] for r in pending["list"]] == ["PENDING", "PENDING"]
    assert pending["page_info"]["total_number"] == 2 and broken["code"] == 40002


def test_a_reinvite_is_ignored_and_a_bound_member_is_untouched(tiktok: object, sandbox: SandboxClient) -> None:
    seed_members(sandbox, 1)
    with raw(sandbox) as client:
        for _ in range(2):
            body = {"bc_id": BC, "emails": ["new@example.com", "u0@example.com"], "user_role": "ADMIN"}
            assert client.post("/bc/member/invite/", json=body).json()["code"] == 0
        assert client.post("/bc/member/invite/", json={"bc_id": BC, "emails": []}).json()["code"] == 40002
    members = {m["email"]: m for m in sandbox.state(KIND, BC)["members"]}
    assert len(members) == 2
    assert (members["u0@example.com"]["role"], members["u0@example.com"]["status"]) == ("STANDARD", "active")
    assert (members["new@example.com"]["role"], members["new@example.com"]["status"]) == ("ADMIN", "pending")


def test_deleting_unknown_users_is_40007(tiktok: object, sandbox: SandboxClient) -> None:
    with raw(sandbox) as client:
        by_id = client.post("/bc/member/delete/", json={"bc_id": BC, "user_id": "6800000000000000999"}).json()
        by_email = client.post("/bc/member/delete/", json={"bc_id": BC, "user_email": "x@example.com"}).json()
    assert (by_id["code"], by_email["code"]) == (40007, 40007)


async def test_role_field_must_match_the_asset_type(tiktok: TikTokBusinessConnector, sandbox: SandboxClient) -> None:
    [user_id] = sandbox.seed(KIND, {"org": BC, "members": [{"email": "a@example.com", "role": "STANDARD"}],
                                    "assets": [{"id": "7100000000000000001", "name": "Ads", "type": "ADVERTISER"},
                                               {"id": "7100000000000000002", "name": "Shop", "type": "CATALOG"}]})
    with raw(sandbox) as client:
        wrong = client.post("/bc/asset/assign/", json={
            "bc_id": BC, "user_id": user_id, "asset_type": "ADVERTISER", "asset_id": "7100000000000000001",
            "catalog_role": "ADMIN"}).json()
    assert wrong["code"] == 40002
    with pytest.raises(InvalidRequest):
        await tiktok.grant(user_id, "7100000000000000002", "ANALYST")  # not a catalog role
    await tiktok.grant(user_id, "7100000000000000002", "AD_PROMOTE")
    assets = {a["id"]: a["grants"] for a in sandbox.state(KIND, BC)["assets"]}
    assert assets == {"7100000000000000001": [],
                      "7100000000000000002": [{"remote_id": user_id, "permission": "AD_PROMOTE"}]}


async def test_tiktok_account_roles_are_a_set(tiktok: TikTokBusinessConnector, sandbox: SandboxClient) -> None:
    [user_id] = sandbox.seed(KIND, {"org": BC, "members": [{"email": "a@example.com", "role": "STANDARD"}],
                                    "assets": [{"id": "7400000000000000001", "name": "@acme", "type": "TT_ACCOUNT"}]})
    await tiktok.grant(user_id, "7400000000000000001", "POST,LIVE")
    await tiktok.grant(user_id, "7400000000000000001", "LIVE,POST")
    asset = Asset("7400000000000000001", "@acme", "TT_ACCOUNT")
    [permission] = await collect(tiktok.list_permissions(asset))
    assert (permission.remote_id, permission.permission) == (user_id, "LIVE,POST")
    assert [a.type for a in await collect(tiktok.list_assets())] == ["TT_ACCOUNT"]


async def test_pending_invitations_cannot_get_roles_or_assets(tiktok: TikTokBusinessConnector,
                                                              sandbox: SandboxClient) -> None:
    [pending] = seed_members(sandbox, 0, 1)
    assert pending == "pending:p0@example.com"
    with pytest.raises(InvalidRequest):
        await tiktok.change_role(pending, "ADMIN")
    with pytest.raises(InvalidRequest):
        await tiktok.grant(pending, "7100000000000000001", "ANALYST")
    await tiktok.revoke(pending, "7100000000000000001")  # nothing to revoke: success


async def test_rate_limits_are_retried_with_backoff(tiktok: TikTokBusinessConnector, sandbox: SandboxClient) -> None:
    ids = seed_members(sandbox, 45)
    sandbox.faults(KIND, rate_limit_every=2)
    members = await collect(tiktok.list_members())
    sandbox.clear_faults()
    assert [m.remote_id for m in members] == ids


async def test_persistent_rate_limit_and_outage_surface_as_retryable(sandbox: SandboxClient) -> None:
    sandbox.seed(KIND, {"org": BC, "token": TOKEN})
    once = build(sandbox, settings=replace(FAST_SETTINGS, max_attempts=2))
    try:
        sandbox.faults(KIND, rate_limit_every=1)
        with pytest.raises(RateLimited) as limited:
            await collect(once.list_members())
        sandbox.faults(KIND, error_rate=1.0, errors=["unavailable"])
        with pytest.raises(VendorUnavailable):
            await collect(once.list_members())
    finally:
        sandbox.clear_faults()
        await once.aclose()
    assert limited.value.retry_after is None and limited.value.vendor_code == "40100"


async def test_change_role_returns_the_listed_member(tiktok: TikTokBusinessConnector, sandbox: SandboxClient) -> None:
    [user_id] = sandbox.seed(KIND, {"org": BC, "members": [{"email": "a@example.com", "name": "A B",
                                                            "role": "STANDARD"}]})
    member = await tiktok.change_role(user_id, "ADMIN")
    assert (member.remote_id, member.email, member.display_name, member.role, member.state) == (
        user_id, "a@example.com", "A B", "ADMIN", "active")
