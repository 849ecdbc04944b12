"""Meta Graph behaviour the contracts do not pin: cursor paging to the absent ``next``, the version
in the base URL, task bundles on ad accounts and Pages, throttles and expired tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import AutomationAccount, Secret
from connectors.errors import AuthError, InvalidRequest, NotFound
from connectors.http import HTTPSettings, VendorHTTP
from connectors.meta_business import MetaBusinessConnector
from connectors.meta_business.client import MetaClient, split_version
from connectors.meta_business.errors import classify
from connectors.meta_business.tasks import BUNDLES, TASKS, permission_for, tasks_for
from connectors.registry import create_connector
from connectors.sandbox import SandboxClient
from tests.contracts import FAST_SETTINGS, collect

BIZ, TOKEN = "1234567890123", "graph-token"


def small_pages(size: int) -> HTTPSettings:
    return HTTPSettings(timeout=5.0, connect_timeout=2.0, max_attempts=3, backoff_base=0.001, backoff_max=0.01,
                        max_retry_wait=0.02, concurrency=4, page_size=size)


def connect(sandbox: SandboxClient, settings: HTTPSettings = FAST_SETTINGS, base_url: str | None = None,
            token: str = TOKEN, business: str = BIZ) -> MetaBusinessConnector:
    connector = create_connector("meta_business", account=AutomationAccount(api_token=Secret(token)),
                                 base_url=base_url or sandbox.kind_url("meta_business"), business_id=business,
                                 settings=settings)
    assert isinstance(connector, MetaBusinessConnector)
    return connector


@pytest.fixture
def seeded(sandbox: SandboxClient) -> SandboxClient:
    members = [{"email": f"u{n}@example.com", "role": "EMPLOYEE", "status": "active"} for n in range(7)]
    members += [{"email": f"p{n}@example.com", "role": "EMPLOYEE", "status": "pending"} for n in range(4)]
    sandbox.seed("meta_business", {
        "org": BIZ, "token": TOKEN, "members": members,
        "assets": [{"id": "act_42", "name": "Ads", "type": "ad_account", "grants": []},
                   {"id": "555", "name": "Page", "type": "page", "grants": []}]})
    return sandbox


@pytest.fixture
async def meta(seeded: SandboxClient) -> AsyncIterator[MetaBusinessConnector]:
    connector = connect(seeded)
    yield connector
    await connector.aclose()


async def test_pages_until_next_is_absent_even_though_after_is_always_there(seeded: SandboxClient) -> None:
    connector = connect(seeded, small_pages(3))
    try:
        members = await collect(connector.list_members())
    finally:
        await connector.aclose()
    assert len(members) == 11 and len({m.remote_id for m in members}) == 11


def test_the_last_page_has_an_after_cursor_but_no_next(seeded: SandboxClient) -> None:
    last = httpx.get(f"{seeded.kind_url('meta_business')}/v25.0/{BIZ}/business_users",
                     params={"access_token": TOKEN, "limit": 7}).json()
    assert "after" in last["paging"]["cursors"] and "next" not in last["paging"]


def test_the_next_link_keeps_the_token_and_the_cursor(seeded: SandboxClient) -> None:
    first = httpx.get(f"{seeded.kind_url('meta_business')}/v25.0/{BIZ}/business_users",
                      params={"access_token": TOKEN, "limit": 3}).json()
    next_url = first["paging"]["next"]
    assert "access_token=" in next_url and "after=" in next_url
    second = httpx.get(next_url).json()
    assert [u["id"] for u in second["data"]] != [u["id"] for u in first["data"]]


async def test_the_graph_version_is_taken_from_the_base_url(seeded: SandboxClient) -> None:
    assert split_version("https://graph.facebook.com/v26.0/") == ("https://graph.facebook.com", "v26.0")
    assert split_version("http://127.0.0.1:1/meta_business") == ("http://127.0.0.1:1/meta_business", "v25.0")
    connector = connect(seeded, base_url=f"{seeded.kind_url('meta_business')}/v19.0")
    try:
        assert connector.client.version == "v19.0"
        assert len(await collect(connector.list_members())) == 11
    finally:
        await connector.aclose()


async def test_a_next_link_to_another_host_is_refused() -> None:
    def graph(request: httpx.Request) -> httpx.Response:  # a stand-in vendor, not the code under test
        return httpx.Response(200, json={"data": [], "paging": {"next": "https://evil.example/v25.0/x?after=1"}})

    http = VendorHTTP("meta_business", "https://graph.facebook.com", auth_params={"access_token": Secret("t0k")},
                      settings=FAST_SETTINGS, classifier=classify, transport=httpx.MockTransport(graph))
    client = MetaClient(http, BIZ)
    try:
        with pytest.raises(InvalidRequest, match="another host"):
            await collect(client.iter_business_users())
    finally:
        await client.aclose()


async def test_grants_use_ad_account_and_page_task_bundles(meta: MetaBusinessConnector, seeded: SandboxClient) -> None:
    [member] = [m for m in await collect(meta.list_members()) if m.email == "u0@example.com"]
    await meta.grant(member.remote_id, "act_42", "advertiser")
    await meta.grant(member.remote_id, "555", "editor")
    state = {a["id"]: a["grants"] for a in seeded.state("meta_business", BIZ)["assets"]}
    assert state == {"act_42": [{"remote_id": member.remote_id, "permission": "advertiser"}],
                     "555": [{"remote_id": member.remote_id, "permission": "editor"}]}
    assets = {a.id: a for a in await collect(meta.list_assets())}
    assert {a.type for a in assets.values()} == {"ad_account", "page"}
    [permission] = await collect(meta.list_permissions(assets["act_42"]))
    assert permission.permission == "advertiser"
    await meta.grant(member.remote_id, "act_42", "ANALYZE,DRAFT")
    [permission] = await collect(meta.list_permissions(assets["act_42"]))
    assert permission.permission == "ANALYZE,DRAFT"
    with pytest.raises(InvalidRequest):
        await meta.grant(member.remote_id, "act_42", "editor")  # a Page bundle, not an ad-account one


async def test_revoking_what_is_not_held_succeeds(meta: MetaBusinessConnector, seeded: SandboxClient) -> None:
    [member] = [m for m in await collect(meta.list_members()) if m.email == "u1@example.com"]
    await meta.revoke(member.remote_id, "act_42")
    assert all(a["grants"] == [] for a in seeded.state("meta_business", BIZ)["assets"])


async def test_a_pending_invitation_can_be_re_roled(meta: MetaBusinessConnector, seeded: SandboxClient) -> None:
    [pending] = [m for m in await collect(meta.list_members()) if m.email == "p0@example.com"]
    changed = await meta.change_role(pending.remote_id, "ADMIN")
    assert (changed.remote_id, changed.role, changed.state) == (pending.remote_id, "ADMIN", "pending")
    [stored] = [m for m in seeded.state("meta_business", BIZ)["members"] if m["email"] == "p0@example.com"]
    assert stored["role"] == "ADMIN"
    with pytest.raises(InvalidRequest):
        await meta.change_role(pending.remote_id, "FINANCE_WIZARD")


async def test_check_and_unknown_business(seeded: SandboxClient) -> None:
    connector = connect(seeded)
    other = connect(seeded, business="999")
    try:
        await connector.check()
        with pytest.raises(NotFound):
            await other.check()
    finally:
        await connector.aclose()
        await other.aclose()


async def test_throttled_listing_completes_and_expired_token_fails_at_once(seeded: SandboxClient) -> None:
    connector = connect(seeded, small_pages(2))
    try:
        seeded.faults("meta_business", rate_limit_every=2, retry_after=0)
        assert len(await collect(connector.list_members())) == 11
        seeded.faults("meta_business", expire_tokens=True)
        with pytest.raises(AuthError) as caught:
            await connector.check()
        assert caught.value.vendor_code == "190" and TOKEN not in str(caught.value)
    finally:
        await connector.aclose()


async def test_demo_scenario_is_reachable_with_the_documented_token(sandbox: SandboxClient) -> None:
    sandbox.reset("demo")
    connector = connect(sandbox, token="demo-token-meta_business", business="1000000000001")
    try:
        await connector.check()
        members = await collect(connector.list_members())
        assets = await collect(connector.list_assets())
    finally:
        await connector.aclose()
    assert sorted(m.state for m in members) == ["active"] * 4 + ["pending"] * 2
    assert [m.email for m in members if m.role == "ADMIN"] == ["ada.lovelace@example.com"]
    assert [a.id for a in assets] == ["act_1000000001", "act_1000000002"]


@settings(max_examples=100)
@given(asset=st.sampled_from(["act_1", "777"]), data=st.data())
def test_named_and_raw_permissions_round_trip(asset: str, data: st.DataObject) -> None:
    asset_type = "ad_account" if asset.startswith("act_") else "page"
    name = data.draw(st.sampled_from(sorted(BUNDLES[asset_type])))
    assert permission_for(asset_type, tasks_for(asset, name)) == name
    tasks = data.draw(st.sets(st.sampled_from(sorted(TASKS[asset_type])), min_size=1))
    permission = permission_for(asset_type, sorted(tasks))
    assert set(tasks_for(asset, permission)) == tasks
