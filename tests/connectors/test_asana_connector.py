"""Asana-specific behaviour over real HTTP against the sandbox: offset paging, invitees that look
active, the ``{"errors": [...]}`` envelope, 429 + Retry-After, 401 -> AuthError, 403/404 workspaces."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.asana import AsanaConnector
from connectors.asana.client import BASE_URL, MEMBER_FIELDS, api_base
from connectors.base import AutomationAccount, Secret
from connectors.errors import AuthError, InvalidRequest, NotFound, PermissionDenied, RateLimited
from connectors.http import HTTPSettings
from connectors.registry import capabilities, create_connector
from connectors.sandbox import SandboxClient
from tests.contracts import FAST_SETTINGS, collect

WORKSPACE, TOKEN = "1200000000000099", "asana-token"
ONE_TRY = dataclasses.replace(FAST_SETTINGS, max_attempts=1)


def connect(sandbox: SandboxClient, *, settings: HTTPSettings = FAST_SETTINGS, workspace: str = WORKSPACE,
            base_url: str | None = None, token: str = TOKEN) -> AsanaConnector:
    connector = create_connector("asana", account=AutomationAccount(api_token=Secret(token)),
                                 base_url=base_url or sandbox.kind_url("asana"), business_id=workspace,
                                 settings=settings)
    assert isinstance(connector, AsanaConnector)
    return connector


def seed(sandbox: SandboxClient, active: int = 0, pending: int = 0, role: str = "member") -> list[str]:
    members = [{"email": f"a{n}@example.com", "role": role} for n in range(active)]
    members += [{"email": f"p{n}@example.com", "role": role, "status": "pending"} for n in range(pending)]
    return sandbox.seed("asana", {"org": WORKSPACE, "token": TOKEN, "members": members})


@pytest.fixture
async def asana(sandbox: SandboxClient) -> AsyncIterator[AsanaConnector]:
    seed(sandbox)
    connector = connect(sandbox)
    yield connector
    await connector.aclose()


def test_catalog_entry() -> None:
    assert capabilities("asana") == ("ListsMembers", "ListsRoles", "ListsAssets", "InvitesMembers",
                                     "RemovesMembers", "GrantsAssets")
    assert BASE_URL == "https://app.asana.com/api/1.0"
    assert api_base(BASE_URL) == BASE_URL
    assert api_base("http://127.0.0.1:1/asana/") == "http://127.0.0.1:1/asana/api/1.0"


@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(active=st.integers(0, 230), page_size=st.integers(1, 100))
def test_offset_paging_lists_everyone_once_in_order(sandbox_url: str, active: int, page_size: int) -> None:
    sandbox = SandboxClient(sandbox_url)
    try:
        sandbox.reset()
        ids = seed(sandbox, active=active)
        connector = connect(sandbox, settings=dataclasses.replace(FAST_SETTINGS, page_size=page_size))

        async def listed() -> list[str]:
            try:
                return [m.remote_id for m in await collect(connector.list_members())]
            finally:
                await connector.aclose()

        assert asyncio.run(listed()) == ids
    finally:
        sandbox.close()


def test_the_sandbox_pages_like_asana(sandbox: SandboxClient) -> None:
    seed(sandbox, active=1001)
    base = f"{sandbox.kind_url('asana')}/api/1.0/workspaces/{WORKSPACE}/workspace_memberships"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    first = httpx.get(base, params={"limit": 1000}, headers=headers)
    assert first.status_code == 400 and "between 1 and 100" in first.json()["errors"][0]["message"]
    unpaged = httpx.get(base, headers=headers)
    assert unpaged.status_code == 400 and "too large" in unpaged.json()["errors"][0]["message"]
    page = httpx.get(base, params={"limit": 100}, headers=headers).json()
    assert len(page["data"]) == 100 and page["next_page"]["path"].startswith(f"/workspaces/{WORKSPACE}/")
    follow = httpx.get(page["next_page"]["uri"], headers=headers).json()
    assert follow["data"][0]["gid"] != page["data"][0]["gid"]
    elsewhere = httpx.get(f"{sandbox.kind_url('asana')}/api/1.0/workspaces/{WORKSPACE}/projects",
                          params={"limit": 10, "offset": page["next_page"]["offset"]}, headers=headers)
    assert elsewhere.status_code == 400 and "pagination token" in elsewhere.json()["errors"][0]["message"]


def test_opt_fields_project_the_records(sandbox: SandboxClient) -> None:
    seed(sandbox, active=1)
    response = httpx.get(f"{sandbox.kind_url('asana')}/api/1.0/workspaces/{WORKSPACE}/workspace_memberships",
                         params={"limit": 5, "opt_fields": MEMBER_FIELDS},
                         headers={"Authorization": f"Bearer {TOKEN}"})
    [record] = response.json()["data"]
    assert set(record) == {"gid", "user", "is_active", "is_admin", "is_guest"}
    assert set(record["user"]) == {"gid", "name", "email"}


async def test_invitees_look_active_as_at_asana(asana: AsanaConnector, sandbox: SandboxClient) -> None:
    invited = await asana.invite("new@example.com", "member")
    assert invited.state == "pending"
    [stored] = sandbox.state("asana", WORKSPACE)["members"]
    assert (stored["remote_id"], stored["status"]) == (invited.remote_id, "pending")
    [listed] = await collect(asana.list_members())
    assert (listed.remote_id, listed.state, listed.email) == (invited.remote_id, "active", "new@example.com")
    again = await asana.invite("NEW@example.com", "member")
    assert again.remote_id == invited.remote_id
    assert len(sandbox.state("asana", WORKSPACE)["members"]) == 1


async def test_roles_come_from_the_membership_flags(asana: AsanaConnector, sandbox: SandboxClient) -> None:
    sandbox.seed("asana", {"org": WORKSPACE, "members": [
        {"email": "boss@example.com", "role": "admin"}, {"email": "guest@elsewhere.com", "role": "guest"}]})
    assert {m.email: m.role for m in await collect(asana.list_members())} == {
        "boss@example.com": "admin", "guest@elsewhere.com": "guest"}


async def test_invite_cannot_set_a_role(asana: AsanaConnector, sandbox: SandboxClient) -> None:
    with pytest.raises(InvalidRequest):
        await asana.invite("boss@example.com", "admin")
    assert sandbox.state("asana", WORKSPACE)["members"] == []


async def test_grant_rejects_an_unknown_access_level(asana: AsanaConnector, sandbox: SandboxClient) -> None:
    [remote_id] = sandbox.seed("asana", {"org": WORKSPACE, "members": [{"email": "a@example.com"}],
                                         "assets": [{"id": "1202", "name": "P", "type": "project"}]})
    with pytest.raises(InvalidRequest):
        await asana.grant(remote_id, "1202", "owner")
    await asana.grant(remote_id, "1202", "commenter")
    assert sandbox.state("asana", WORKSPACE)["assets"][0]["grants"] == [
        {"remote_id": remote_id, "permission": "commenter"}]


async def test_rate_limit_carries_retry_after(sandbox: SandboxClient) -> None:
    seed(sandbox, active=1)
    sandbox.faults("asana", rate_limit_every=1, retry_after=4)
    connector = connect(sandbox, settings=ONE_TRY)
    try:
        with pytest.raises(RateLimited) as caught:
            await collect(connector.list_members())
    finally:
        await connector.aclose()
    assert (caught.value.retry_after, caught.value.status) == (4, 429)
    assert "be chill" in str(caught.value)


async def test_rate_limits_are_retried_until_the_listing_completes(sandbox: SandboxClient) -> None:
    ids = seed(sandbox, active=150)
    sandbox.faults("asana", rate_limit_every=2, retry_after=0)
    connector = connect(sandbox, settings=dataclasses.replace(FAST_SETTINGS, max_attempts=3))
    try:
        assert [m.remote_id for m in await collect(connector.list_members())] == ids
    finally:
        await connector.aclose()


async def test_unknown_token_is_not_authorized(sandbox: SandboxClient) -> None:
    seed(sandbox)
    connector = connect(sandbox, token="nope")
    try:
        with pytest.raises(AuthError) as caught:
            await connector.check()
    finally:
        await connector.aclose()
    assert "Not Authorized" in str(caught.value) and "nope" not in str(caught.value)


async def test_other_and_unknown_workspaces(sandbox: SandboxClient) -> None:
    seed(sandbox)
    sandbox.seed("asana", {"org": "1200000000000555", "token": "someone-else"})
    for workspace, error in (("1200000000000555", PermissionDenied), ("1200000000000777", NotFound)):
        connector = connect(sandbox, workspace=workspace)
        try:
            with pytest.raises(error):
                await connector.check()
        finally:
            await connector.aclose()


async def test_the_full_api_base_works_too(sandbox: SandboxClient) -> None:
    [remote_id] = seed(sandbox, active=1)
    connector = connect(sandbox, base_url=f"{sandbox.kind_url('asana')}/api/1.0")
    try:
        await connector.check()
        assert [m.remote_id for m in await collect(connector.list_members())] == [remote_id]
    finally:
        await connector.aclose()


async def test_demo_scenario(sandbox: SandboxClient) -> None:
    sandbox.reset("demo")
    connector = create_connector("asana", account=AutomationAccount(api_token=Secret("demo-token-asana")),
                                 base_url=sandbox.kind_url("asana"), business_id="1201234567890123",
                                 settings=FAST_SETTINGS)
    try:
        members = await collect(connector.list_members())  # type: ignore[attr-defined]
        assets = await collect(connector.list_assets())  # type: ignore[attr-defined]
    finally:
        await connector.aclose()
    assert len(members) == 6 and [m.email for m in members if m.role == "admin"] == ["ada.lovelace@example.com"]
    assert [a.name for a in assets] == ["Website", "Mobile app"]
