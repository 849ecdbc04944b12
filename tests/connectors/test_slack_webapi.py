"""Slack Web API behaviour the contracts do not pin: ``next_cursor`` paging, the role vocabulary and
what the admin API cannot do, workspace scoping, throttles and revoked tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.base import AutomationAccount, Secret
from connectors.errors import AuthError, InvalidRequest, NotFound
from connectors.http import HTTPSettings
from connectors.registry import create_connector, get_spec
from connectors.sandbox import SandboxClient
from connectors.slack import SlackConnector
from tests.contracts import FAST_SETTINGS, collect

TEAM, TOKEN = "T0WEBAPI01", "xoxp-webapi-token"
ROLES = ["primary_owner", "owner", "admin", "member", "multi_channel_guest", "single_channel_guest"]


def small_pages(size: int) -> HTTPSettings:
    return HTTPSettings(timeout=5.0, connect_timeout=2.0, max_attempts=3, backoff_base=0.001, backoff_max=0.01,
                        max_retry_wait=0.02, concurrency=4, page_size=size)


def connect(sandbox: SandboxClient, settings: HTTPSettings = FAST_SETTINGS, token: str = TOKEN,
            team: str = TEAM) -> SlackConnector:
    connector = create_connector("slack", account=AutomationAccount(api_token=Secret(token)),
                                 base_url=sandbox.kind_url("slack"), business_id=team, settings=settings)
    assert isinstance(connector, SlackConnector)
    return connector


@pytest.fixture
def seeded(sandbox: SandboxClient) -> SandboxClient:
    members = [{"email": f"{role}@example.com", "role": role, "status": "active"} for role in ROLES]
    members.append({"email": "invited@example.com", "role": "member", "status": "pending"})
    sandbox.seed("slack", {"org": TEAM, "token": TOKEN, "members": members})
    sandbox.seed("slack", {"org": "T0OTHER001", "token": TOKEN,
                           "members": [{"email": "elsewhere@example.com", "role": "member"}]})
    return sandbox


@pytest.fixture
async def slack(seeded: SandboxClient) -> AsyncIterator[SlackConnector]:
    connector = connect(seeded)
    yield connector
    await connector.aclose()


def ids(sandbox: SandboxClient) -> dict[str, str]:
    return {m["email"]: m["remote_id"] for m in sandbox.state("slack", TEAM)["members"]}


async def test_every_role_is_read_from_the_flags_and_only_this_workspace_is_listed(slack: SlackConnector) -> None:
    members = await collect(slack.list_members())
    assert {(m.email, m.role, m.state) for m in members} == {
        *((f"{role}@example.com", role, "active") for role in ROLES), ("invited@example.com", "member", "pending")}
    assert [r.key for r in await slack.list_roles()] == ROLES
    assert get_spec("slack").owner_roles == ("primary_owner", "owner", "admin")


async def test_pages_until_next_cursor_is_empty(seeded: SandboxClient) -> None:
    connector = connect(seeded, small_pages(2))
    try:
        assert len(await collect(connector.list_members())) == len(ROLES) + 1
    finally:
        await connector.aclose()


def test_an_empty_next_cursor_ends_and_a_bad_cursor_is_refused(seeded: SandboxClient) -> None:
    url = f"{seeded.kind_url('slack')}/api/users.list"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    last = httpx.get(url, params={"team_id": TEAM, "limit": 100}, headers=headers).json()
    assert last["response_metadata"]["next_cursor"] == ""
    bad = httpx.get(url, params={"team_id": TEAM, "cursor": "bm9wZQ=="}, headers=headers).json()
    assert bad == {"ok": False, "error": "invalid_cursor"}


async def test_role_changes_use_the_admin_setters(slack: SlackConnector, seeded: SandboxClient) -> None:
    by_email = ids(seeded)
    owner = await slack.change_role(by_email["member@example.com"], "owner")
    assert (owner.role, owner.state) == ("owner", "active")
    regular = await slack.change_role(by_email["multi_channel_guest@example.com"], "member")
    assert regular.role == "member"
    roles = {m["email"]: m["role"] for m in seeded.state("slack", TEAM)["members"]}
    assert (roles["member@example.com"], roles["multi_channel_guest@example.com"]) == ("owner", "member")


@pytest.mark.parametrize("role", ["primary_owner", "single_channel_guest", "multi_channel_guest", "boss"])
async def test_roles_the_api_cannot_assign_are_refused(
    slack: SlackConnector, seeded: SandboxClient, role: str
) -> None:
    before = seeded.state("slack", TEAM)
    with pytest.raises(InvalidRequest):
        await slack.change_role(ids(seeded)["member@example.com"], role)
    assert seeded.state("slack", TEAM) == before


@pytest.mark.parametrize("role", ["admin", "owner", "multi_channel_guest", "single_channel_guest"])
async def test_invitations_are_for_members_only(slack: SlackConnector, seeded: SandboxClient, role: str) -> None:
    with pytest.raises(InvalidRequest):
        await slack.invite("someone@example.com", role)
    assert "someone@example.com" not in ids(seeded)


async def test_invitation_joins_general_and_is_pending_until_accepted(
    slack: SlackConnector, seeded: SandboxClient
) -> None:
    invited = await slack.invite("New.Person@example.com", "member")
    assert (invited.state, invited.role) == ("pending", "member")
    again = await slack.invite("new.person@example.com", "member")
    assert again.remote_id == invited.remote_id
    assert seeded.accept("slack", TEAM, "new.person@example.com") == invited.remote_id
    [member] = [m for m in await collect(slack.list_members()) if m.remote_id == invited.remote_id]
    assert member.state == "active"


async def test_check_sees_the_workspace_and_refuses_others(seeded: SandboxClient) -> None:
    good, other = connect(seeded), connect(seeded, team="T0NOTMINE1")
    try:
        await good.check()
        with pytest.raises(NotFound):
            await other.check()
    finally:
        await good.aclose()
        await other.aclose()


async def test_throttles_are_waited_out_and_revoked_tokens_fail_at_once(seeded: SandboxClient) -> None:
    connector = connect(seeded, small_pages(2))
    try:
        seeded.faults("slack", rate_limit_every=2, retry_after=0)
        assert len(await collect(connector.list_members())) == len(ROLES) + 1
        seeded.clear_faults()
    finally:
        await connector.aclose()
    revoked = connect(seeded, token="xoxp-revoked")
    try:
        with pytest.raises(AuthError) as caught:
            await revoked.check()
        assert caught.value.vendor_code == "invalid_auth" and "xoxp-revoked" not in str(caught.value)
    finally:
        await revoked.aclose()


async def test_demo_scenario_is_reachable_with_the_documented_token(sandbox: SandboxClient) -> None:
    sandbox.reset("demo")
    connector = connect(sandbox, token="demo-token-slack", team="T0ACME0001")
    try:
        await connector.check()
        members = await collect(connector.list_members())
    finally:
        await connector.aclose()
    assert sorted(m.state for m in members) == ["active"] * 4 + ["pending"] * 2
    assert [m.email for m in members if m.role == "owner"] == ["ada.lovelace@example.com"]
