"""Calendly specifics beyond the contracts: X-RateLimit-Reset honoured, invite has no role, the
owner cannot be removed, organization access, invitation status transitions, the catalog entry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.base import AutomationAccount, Secret
from connectors.calendly import CalendlyClient, CalendlyConnector
from connectors.errors import AuthError, InvalidRequest, PermissionDenied
from connectors.http import HTTPSettings, VendorHTTP
from connectors.registry import capabilities, create_connector, get_spec
from connectors.sandbox import SandboxClient
from tests.contracts import FAST_SETTINGS, collect

ORG, TOKEN = "VENDORORGUUID001", "vendor-token"


@pytest.fixture
def org(sandbox: SandboxClient) -> str:
    sandbox.seed("calendly", {"org": ORG, "token": TOKEN, "members": [
        {"email": "owner@example.com", "role": "owner", "status": "active"},
        {"email": "admin@example.com", "role": "admin", "status": "active"},
        {"email": "user@example.com", "role": "user", "status": "active"},
    ]})
    return ORG


@pytest.fixture
async def connector(sandbox: SandboxClient, org: str) -> AsyncIterator[CalendlyConnector]:
    connector = create_connector("calendly", account=AutomationAccount(api_token=TOKEN),
                                 base_url=sandbox.kind_url("calendly"), business_id=org,
                                 settings=FAST_SETTINGS)
    assert isinstance(connector, CalendlyConnector)
    yield connector
    await connector.aclose()


def test_catalog_entry() -> None:
    spec = get_spec("calendly")
    assert spec.capabilities == ("ListsMembers", "ListsRoles", "InvitesMembers", "RemovesMembers")
    assert "ChangesRoles" not in capabilities("calendly")
    assert spec.owner_roles == ("owner", "admin")
    assert spec.needs_business_id and spec.account_fields == ("api_token",)
    assert spec.base_url == "https://api.calendly.com"


async def test_waits_as_x_ratelimit_reset_says(sandbox: SandboxClient, org: str) -> None:
    """Calendly sends no Retry-After: the policy must wait the X-RateLimit-Reset seconds."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    settings = HTTPSettings(max_attempts=3, max_retry_wait=120, backoff_base=0.001)
    http = VendorHTTP("calendly", sandbox.kind_url("calendly"),
                      auth_headers={"Authorization": Secret(f"Bearer {TOKEN}")}, settings=settings,
                      sleep=record)
    connector = CalendlyConnector(CalendlyClient(http, org))
    sandbox.faults("calendly", rate_limit_every=2, retry_after=37)
    try:
        members = await collect(connector.list_members())
    finally:
        await connector.aclose()
    assert len(members) == 3
    assert waits and set(waits) == {37.0}


async def test_invite_has_no_role_field(connector: CalendlyConnector, sandbox: SandboxClient, org: str) -> None:
    with pytest.raises(InvalidRequest):
        await connector.invite("new@example.com", "admin")
    assert "new@example.com" not in {m["email"] for m in sandbox.state("calendly", org)["members"]}
    member = await connector.invite("new@example.com", "user")
    assert (member.role, member.state, member.remote_id[:4]) == ("user", "pending", "inv:")


async def test_the_owner_cannot_be_removed(connector: CalendlyConnector, sandbox: SandboxClient, org: str) -> None:
    owner = next(m for m in await collect(connector.list_members()) if m.role == "owner")
    with pytest.raises(PermissionDenied):
        await connector.remove(owner.remote_id)
    assert len(sandbox.state("calendly", org)["members"]) == 3


async def test_check_proves_token_and_organization(sandbox: SandboxClient, org: str) -> None:
    sandbox.seed("calendly", {"org": "OTHERORGUUID0001", "token": "other-token"})
    for token, error in (("other-token", PermissionDenied), ("nobody", AuthError), (TOKEN, None)):
        connector = create_connector("calendly", account=AutomationAccount(api_token=token),
                                     base_url=sandbox.kind_url("calendly"), business_id=org,
                                     settings=FAST_SETTINGS)
        try:
            if error is None:
                await connector.check()
            else:
                with pytest.raises(error):
                    await connector.check()
        finally:
            await connector.aclose()


async def test_accepted_invitation_becomes_a_membership(
    connector: CalendlyConnector, sandbox: SandboxClient, org: str
) -> None:
    invited = await connector.invite("joiner@example.com", "user")
    sandbox.accept("calendly", org, "joiner@example.com")
    accepted = [i async for i in connector.client.iter_invitations(status="accepted")]
    assert [(i.email, i.status, i.user is not None) for i in accepted] == [("joiner@example.com", "accepted", True)]
    assert [i async for i in connector.client.iter_invitations(status="pending")] == []
    joined = await connector.find_by_email("joiner@example.com")
    assert joined is not None and joined.state == "active" and joined.remote_id != invited.remote_id
    await connector.remove(invited.remote_id)  # the invitation is no longer pending: a no-op
    assert "joiner@example.com" in {m["email"] for m in sandbox.state("calendly", org)["members"]}


async def test_small_pages_list_everyone_once(sandbox: SandboxClient, org: str) -> None:
    sandbox.seed("calendly", {"org": org, "members": [
        {"email": f"p{n}@example.com", "status": "pending", "role": "user"} for n in range(9)]})
    connector = create_connector("calendly", account=AutomationAccount(api_token=TOKEN),
                                 base_url=sandbox.kind_url("calendly"), business_id=org,
                                 settings=HTTPSettings(page_size=2, max_attempts=1))
    try:
        members = await collect(connector.list_members())  # type: ignore[attr-defined]
    finally:
        await connector.aclose()
    assert len(members) == len({m.remote_id for m in members}) == 12
    assert sum(m.state == "pending" for m in members) == 9


def test_connect_needs_token_and_org() -> None:
    with pytest.raises(AuthError):
        create_connector("calendly", account=AutomationAccount(), business_id=ORG)
    with pytest.raises(InvalidRequest):
        create_connector("calendly", account=AutomationAccount(api_token="t"), business_id=None)


async def test_demo_scenario_is_reachable_with_the_documented_token(sandbox: SandboxClient) -> None:
    sandbox.reset("demo")
    connector = create_connector("calendly", account=AutomationAccount(api_token="demo-token-calendly"),
                                 base_url=sandbox.kind_url("calendly"), business_id="ACMEORGANIZATION",
                                 settings=FAST_SETTINGS)
    try:
        await connector.check()
        members = await collect(connector.list_members())  # type: ignore[attr-defined]
    finally:
        await connector.aclose()
    assert sorted(m.state for m in members) == ["active"] * 4 + ["pending"] * 2
    assert [m.email for m in members if m.role == "owner"] == ["ada.lovelace@example.com"]


def test_public_surface_is_pinned() -> None:
    import connectors.calendly as package

    assert sorted(package.__all__) == ["CalendlyClient", "CalendlyConnector", "SPEC", "make_connector"]
