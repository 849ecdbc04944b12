"""Atlassian-specific behaviour over real HTTP against the sandbox: ``links.next`` cursor paging,
org-admin roles from the v2 directory, pending = never active, inactive/closed accounts, suspend and
restore, the ``ADMIN-UAM`` error envelope, 429 + Retry-After, 401 -> AuthError, 403/404 orgs."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.atlassian import AtlassianConnector
from connectors.atlassian.client import BASE_URL, admin_root
from connectors.base import AutomationAccount, Secret
from connectors.errors import AuthError, InvalidRequest, NotFound, PermissionDenied, RateLimited
from connectors.http import HTTPSettings
from connectors.registry import capabilities, create_connector, get_spec
from connectors.sandbox import SandboxClient
from tests.connectors.conftest import SandboxServer
from tests.contracts import FAST_SETTINGS, collect

ORG, TOKEN = "0b2e6f7a-5c4d-4e3f-8a9b-1c2d3e4f5a6b", "org-api-key"
ONE_TRY = dataclasses.replace(FAST_SETTINGS, max_attempts=1)


def connect(sandbox: SandboxClient, *, settings: HTTPSettings = FAST_SETTINGS, org: str = ORG,
            base_url: str | None = None, token: str = TOKEN) -> AtlassianConnector:
    connector = create_connector("atlassian", account=AutomationAccount(api_token=Secret(token)),
                                 base_url=base_url or sandbox.kind_url("atlassian"), business_id=org,
                                 settings=settings)
    assert isinstance(connector, AtlassianConnector)
    return connector


def seed(sandbox: SandboxClient, active: int = 0, pending: int = 0, admins: int = 0) -> list[str]:
    members = [{"email": f"admin{n}@example.com", "role": "org-admin"} for n in range(admins)]
    members += [{"email": f"a{n}@example.com", "role": "member"} for n in range(active)]
    members += [{"email": f"p{n}@example.com", "role": "member", "status": "pending"} for n in range(pending)]
    return sandbox.seed("atlassian", {"org": ORG, "token": TOKEN, "members": members})


@pytest.fixture
async def atlassian(sandbox: SandboxClient) -> AsyncIterator[AtlassianConnector]:
    seed(sandbox)
    connector = connect(sandbox)
    yield connector
    await connector.aclose()


def test_catalog_entry() -> None:
    assert capabilities("atlassian") == ("ListsMembers", "ListsRoles", "InvitesMembers", "RemovesMembers",
                                         "ChangesRoles")
    spec = get_spec("atlassian")
    assert (spec.base_url, spec.owner_roles, spec.needs_business_id) == (BASE_URL, ("org-admin",), True)
    assert admin_root(BASE_URL) == "https://api.atlassian.com"
    assert admin_root("http://127.0.0.1:1/atlassian/") == "http://127.0.0.1:1/atlassian"


@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(active=st.integers(0, 230), admins=st.integers(0, 12), limit=st.integers(1, 100))
def test_cursor_paging_lists_everyone_once_with_roles(sandbox_url: str, active: int, admins: int,
                                                      limit: int) -> None:
    sandbox = SandboxClient(sandbox_url)
    try:
        sandbox.reset()
        ids = seed(sandbox, active=active, admins=admins)
        connector = connect(sandbox, settings=dataclasses.replace(FAST_SETTINGS, page_size=limit))

        async def listed() -> list[tuple[str, str]]:
            try:
                return [(m.remote_id, m.role) for m in await collect(connector.list_members())]
            finally:
                await connector.aclose()

        assert asyncio.run(listed()) == [(i, "org-admin" if n < admins else "member") for n, i in enumerate(ids)]
    finally:
        sandbox.close()


def test_v1_pages_link_to_the_next_page(sandbox: SandboxClient) -> None:
    seed(sandbox, active=150)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{sandbox.kind_url('atlassian')}/admin/v1/orgs/{ORG}/users"
    first = httpx.get(url, headers=headers).json()
    assert (len(first["data"]), first["meta"]["total"], first["links"]["prev"]) == (100, 150, None)
    second = httpx.get(first["links"]["next"], headers=headers).json()
    assert len(second["data"]) == 50 and second["links"]["next"] is None and second["links"]["prev"]
    bad = httpx.get(url, params={"cursor": "garbage"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "ADMIN-UAM-400-1"


async def test_pending_means_never_active(atlassian: AtlassianConnector, sandbox: SandboxClient) -> None:
    [active, pending] = seed(sandbox, active=1, pending=1)
    assert [(m.remote_id, m.state) for m in await collect(atlassian.list_members())] == [
        (active, "active"), (pending, "pending")]
    users = {u.account_id: u async for u in atlassian.client.iter_users()}
    assert users[active].last_active and users[pending].last_active is None


async def test_inactive_and_closed_accounts_are_not_listed(
    atlassian: AtlassianConnector, sandbox: SandboxClient, sandbox_server: SandboxServer
) -> None:
    ids = seed(sandbox, active=3)
    org = sandbox_server.sandbox.store.org("atlassian", ORG)
    assert org is not None
    fake = sandbox_server.sandbox.fake("atlassian")
    for remote_id, status in zip(ids[1:], ("inactive", "closed")):
        member = fake.find(org, remote_id)
        assert member is not None
        member.extra["account_status"] = status
    assert [m.remote_id for m in await collect(atlassian.list_members())] == ids[:1]


async def test_suspend_and_restore_access(atlassian: AtlassianConnector, sandbox: SandboxClient) -> None:
    [remote_id] = seed(sandbox, active=1)
    await atlassian.suspend(remote_id)
    [user] = [u async for u in atlassian.client.iter_users()]
    assert (user.access_billable, user.products) == (False, ())
    assert (await atlassian.client.get_directory_user(remote_id)).account_id == remote_id
    assert [m.remote_id for m in await collect(atlassian.list_members())] == [remote_id]
    await atlassian.restore(remote_id)
    [user] = [u async for u in atlassian.client.iter_users()]
    assert (user.access_billable, user.products) == (True, ("jira-software",))
    with pytest.raises(NotFound):
        await atlassian.suspend("5b10ffffffffffffffffffff")


async def test_invite_as_org_admin(atlassian: AtlassianConnector, sandbox: SandboxClient) -> None:
    member = await atlassian.invite("boss@example.com", "org-admin")
    assert (member.state, member.role) == ("pending", "org-admin")
    [stored] = sandbox.state("atlassian", ORG)["members"]
    assert (stored["remote_id"], stored["role"], stored["status"]) == (member.remote_id, "org-admin", "pending")


async def test_invite_leaves_a_present_member_alone(atlassian: AtlassianConnector, sandbox: SandboxClient) -> None:
    [remote_id] = seed(sandbox, admins=1)
    before = sandbox.state("atlassian", ORG)
    member = await atlassian.invite("ADMIN0@example.com", "member")
    assert (member.remote_id, member.state, member.role) == (remote_id, "active", "org-admin")
    assert sandbox.state("atlassian", ORG) == before


async def test_unknown_roles_are_refused(atlassian: AtlassianConnector, sandbox: SandboxClient) -> None:
    [remote_id] = seed(sandbox, active=1)
    with pytest.raises(InvalidRequest):
        await atlassian.invite("x@example.com", "site-admin")
    with pytest.raises(InvalidRequest):
        await atlassian.change_role(remote_id, "owner")
    assert [m["role"] for m in sandbox.state("atlassian", ORG)["members"]] == ["member"]


def test_the_sandbox_refuses_other_org_roles(sandbox: SandboxClient) -> None:
    [remote_id] = seed(sandbox, active=1)
    response = httpx.post(
        f"{sandbox.kind_url('atlassian')}/admin/v1/orgs/{ORG}/users/{remote_id}/role-assignments/assign",
        json={"role": "atlassian/site-admin"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "ADMIN-UAM-400-3"
    assert [m["role"] for m in sandbox.state("atlassian", ORG)["members"]] == ["member"]


async def test_change_role_of_someone_gone_is_not_found(atlassian: AtlassianConnector) -> None:
    with pytest.raises(NotFound):
        await atlassian.change_role("5b10ffffffffffffffffffff", "org-admin")


async def test_rate_limit_carries_retry_after(sandbox: SandboxClient) -> None:
    seed(sandbox, active=1)
    sandbox.faults("atlassian", rate_limit_every=1, retry_after=5)
    connector = connect(sandbox, settings=ONE_TRY)
    try:
        with pytest.raises(RateLimited) as caught:
            await connector.check()
    finally:
        await connector.aclose()
    assert (caught.value.retry_after, caught.value.status) == (5, 429)


async def test_expired_key_is_an_auth_error_at_once(sandbox: SandboxClient) -> None:
    seed(sandbox, active=1)
    sandbox.faults("atlassian", expire_tokens=True)
    connector = connect(sandbox)
    try:
        with pytest.raises(AuthError) as caught:
            await connector.remove("5b10ffffffffffffffffffff")
    finally:
        await connector.aclose()
    assert caught.value.status == 401
    assert sandbox.fault_stats()["plans"]["atlassian"]["injected"] == {"auth_expired": 1}
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)


async def test_other_and_unknown_orgs(sandbox: SandboxClient) -> None:
    seed(sandbox)
    sandbox.seed("atlassian", {"org": "someone-elses-org", "token": "their-key"})
    for org, error in (("someone-elses-org", PermissionDenied), ("no-such-org", NotFound)):
        connector = connect(sandbox, org=org)
        try:
            with pytest.raises(error):
                await connector.check()
        finally:
            await connector.aclose()


async def test_the_documented_base_works_too(sandbox: SandboxClient) -> None:
    [remote_id] = seed(sandbox, active=1)
    connector = connect(sandbox, base_url=f"{sandbox.kind_url('atlassian')}/admin/v1/orgs")
    try:
        await connector.check()
        assert [m.remote_id for m in await collect(connector.list_members())] == [remote_id]
    finally:
        await connector.aclose()


async def test_demo_scenario(sandbox: SandboxClient) -> None:
    sandbox.reset("demo")
    connector = create_connector("atlassian", account=AutomationAccount(api_token=Secret("demo-token-atlassian")),
                                 base_url=sandbox.kind_url("atlassian"),
                                 business_id="4f8c2d1e-7a3b-4c5d-9e6f-0a1b2c3d4e5f", settings=FAST_SETTINGS)
    try:
        await connector.check()
        members = await collect(connector.list_members())  # type: ignore[attr-defined]
    finally:
        await connector.aclose()
    assert sorted(m.state for m in members) == ["active"] * 4 + ["pending"] * 2
    assert [m.email for m in members if m.role == "org-admin"] == ["ada.lovelace@example.com"]
