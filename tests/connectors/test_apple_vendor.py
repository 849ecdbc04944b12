"""App Store Connect specifics beyond the contracts: the Account Holder, role sets, invitation
names, hourly-quota 429s (no hint: backoff), page limits, the catalog entry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.apple import AppleClient, AppleConnector, TeamToken
from connectors.apple.connector import primary_role, split_name
from connectors.base import Secret
from connectors.errors import InvalidRequest
from connectors.http import HTTPSettings, VendorHTTP
from connectors.registry import create_connector, get_spec
from connectors.sandbox import SandboxClient
from connectors.sandbox.apple import team_credentials, team_key
from tests.contracts import FAST_SETTINGS, collect

TEAM, KEY_ID = "vendor-team", "VENDORKEY1"


@pytest.fixture
def team(sandbox: SandboxClient) -> list[str]:
    return sandbox.seed("apple", {"org": TEAM, "token": KEY_ID, "members": [
        {"email": "holder@example.com", "name": "Hold Er", "role": "ACCOUNT_HOLDER", "status": "active"},
        {"email": "dev@example.com", "name": "Dee Veloper", "role": "DEVELOPER", "status": "active"},
        {"email": "invited@example.com", "name": "In Vited", "role": "MARKETING", "status": "pending"},
    ]})


@pytest.fixture
async def connector(sandbox: SandboxClient, team: list[str]) -> AsyncIterator[AppleConnector]:
    connector = create_connector("apple", account=team_credentials(KEY_ID), base_url=sandbox.kind_url("apple"),
                                 settings=FAST_SETTINGS)
    assert isinstance(connector, AppleConnector)
    yield connector
    await connector.aclose()


def test_catalog_entry() -> None:
    spec = get_spec("apple")
    assert spec.capabilities == ("ListsMembers", "ListsRoles", "InvitesMembers", "RemovesMembers", "ChangesRoles")
    assert spec.owner_roles == ("ACCOUNT_HOLDER", "ADMIN")
    assert not spec.needs_business_id
    assert spec.account_fields == ("private_key", "key_id", "issuer_id")
    assert spec.base_url == "https://api.appstoreconnect.apple.com"


def test_primary_role_and_names() -> None:
    assert primary_role(["DEVELOPER", "ADMIN", "CREATE_APPS"]) == "ADMIN"
    assert primary_role(["ACCOUNT_HOLDER", "ADMIN"]) == "ACCOUNT_HOLDER"
    assert primary_role(["CREATE_APPS"]) == "CREATE_APPS"
    assert split_name("ada.lovelace@example.com") == ("Ada", "Lovelace")
    assert split_name("prince@example.com") == ("Prince", "Prince")


async def test_the_account_holder_is_out_of_reach(
    connector: AppleConnector, sandbox: SandboxClient, team: list[str]
) -> None:
    holder = team[0]
    with pytest.raises(InvalidRequest):
        await connector.change_role(team[1], "ACCOUNT_HOLDER")
    with pytest.raises(InvalidRequest):
        await connector.invite("new@example.com", "ACCOUNT_HOLDER")
    with pytest.raises(InvalidRequest) as caught:
        await connector.remove(holder)  # Apple refuses (409)
    assert caught.value.status == 409
    with pytest.raises(InvalidRequest):
        await connector.change_role(holder, "DEVELOPER")
    roles = {m["email"]: m["role"] for m in sandbox.state("apple", TEAM)["members"]}
    assert roles == {"holder@example.com": "ACCOUNT_HOLDER", "dev@example.com": "DEVELOPER",
                     "invited@example.com": "MARKETING"}


async def test_invitations_are_not_editable(connector: AppleConnector, team: list[str]) -> None:
    with pytest.raises(InvalidRequest):
        await connector.change_role(team[2], "ADMIN")


async def test_invite_sends_names_and_one_role(connector: AppleConnector, sandbox: SandboxClient) -> None:
    member = await connector.invite("grace.hopper@example.com", "APP_MANAGER")
    assert (member.role, member.state, member.display_name) == ("APP_MANAGER", "pending", "Grace Hopper")
    stored = next(m for m in sandbox.state("apple", TEAM)["members"] if m["email"] == "grace.hopper@example.com")
    assert (stored["name"], stored["role"], stored["remote_id"]) == ("Grace Hopper", "APP_MANAGER", member.remote_id)


async def test_lists_the_highest_role_of_a_role_set(connector: AppleConnector, team: list[str]) -> None:
    await connector.client.update_roles(team[1], ["MARKETING", "ADMIN"])
    listed = {m.remote_id: m.role for m in await collect(connector.list_members())}
    assert listed[team[1]] == "ADMIN"


async def test_hourly_quota_429_backs_off_and_completes(sandbox: SandboxClient, team: list[str]) -> None:
    """Apple's 429 has no wait hint: the policy backs off exponentially, then the listing completes."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    settings = HTTPSettings(max_attempts=4, backoff_base=0.25, backoff_max=1.0, jitter=0.0, page_size=1)
    key = team_key(KEY_ID)
    http = VendorHTTP("apple", sandbox.kind_url("apple"), settings=settings, sleep=record)
    connector = AppleConnector(AppleClient(http, TeamToken(Secret(key.private_pem), KEY_ID, key.issuer_id)))
    sandbox.faults("apple", rate_limit_every=2, retry_after=99)
    try:
        members = await collect(connector.list_members())
    finally:
        await connector.aclose()
    assert len(members) == 3
    assert waits and set(waits) == {0.25}  # backoff, never the fault plan's 99 s (Apple sends none)


def test_limit_above_200_is_a_parameter_error(sandbox: SandboxClient, team: list[str]) -> None:
    key = team_key(KEY_ID)
    bearer = TeamToken(Secret(key.private_pem), KEY_ID, key.issuer_id).bearer()
    response = httpx.get(f"{sandbox.kind_url('apple')}/v1/users", params={"limit": 201},
                         headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "PARAMETER_ERROR.INVALID"


async def test_filters_find_one_member(connector: AppleConnector, team: list[str]) -> None:
    assert [u.id async for u in connector.client.iter_users(username="DEV@example.com")] == [team[1]]
    assert [f"inv:{i.id}" async for i in connector.client.iter_invitations(email="invited@example.com")] == [team[2]]


async def test_demo_scenario_is_reachable_with_the_demo_key(sandbox: SandboxClient) -> None:
    """The demo team's key id is its seed token ``demo-token-apple``; ``team_credentials`` rebuilds it."""
    sandbox.reset("demo")
    connector = create_connector("apple", account=team_credentials("demo-token-apple"),
                                 base_url=sandbox.kind_url("apple"), settings=FAST_SETTINGS)
    try:
        await connector.check()
        members = await collect(connector.list_members())  # type: ignore[attr-defined]
    finally:
        await connector.aclose()
    assert sorted(m.state for m in members) == ["active"] * 4 + ["pending"] * 2
    assert [m.email for m in members if m.role == "ADMIN"] == ["ada.lovelace@example.com"]


def test_public_surface_is_pinned() -> None:
    import connectors.apple as package

    assert sorted(package.__all__) == ["AppleClient", "AppleConnector", "SPEC", "TeamToken", "make_connector"]
