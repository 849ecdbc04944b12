"""``ListsMembers`` contract: streams every active member and pending invitation, across pages."""

from __future__ import annotations

import pytest

from connectors.base import ListsMembers
from connectors.errors import AuthError
from connectors.sandbox import SandboxClient
from tests.contracts import FAULTS, FAULTY_SETTINGS, KindContract, collect


class ListsMembersContract(KindContract):
    def expected(self, sandbox: SandboxClient, org: str) -> set[tuple[str, str, str]]:
        return {(m["remote_id"], m["status"], m["role"]) for m in self.state(sandbox, org)["members"]}

    async def test_empty_org_lists_nothing(self, connector: object, org: str) -> None:
        self.require(connector, ListsMembers)
        assert await collect(connector.list_members()) == []  # type: ignore[attr-defined]

    async def test_lists_active_and_pending_with_roles(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, ListsMembers)
        self.seed(sandbox, org, active=[self.email("owner")], role=self.admin_role())
        self.seed(sandbox, org, active=[self.email(1), self.email(2)], pending=[self.email(3)])
        members = await collect(connector.list_members())  # type: ignore[attr-defined]
        assert {self.key(m) for m in members} == self.expected(sandbox, org)
        assert len(members) == 4
        by_id = {m["remote_id"]: m for m in self.state(sandbox, org)["members"]}
        for member in members:
            if member.email is not None:
                assert member.email.casefold() == by_id[member.remote_id]["email"].casefold()
        assert {m.role for m in members if m.state == "active"} == {self.admin_role(), self.plain_role()}

    async def test_pages_through_more_than_one_page(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, ListsMembers)
        self.seed(sandbox, org, active=[self.email(n) for n in range(self.many_members)],
                  pending=[self.email(f"p{n}") for n in range(3)])
        members = await collect(connector.list_members())  # type: ignore[attr-defined]
        assert len(members) == self.many_members + 3
        assert len({m.remote_id for m in members}) == len(members)
        assert {self.key(m) for m in members} == self.expected(sandbox, org)

    async def test_accepted_invitation_lists_as_active(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, ListsMembers)
        self.seed(sandbox, org, pending=[self.email("new")])
        sandbox.accept(self.kind, org, self.email("new"))
        members = await collect(connector.list_members())  # type: ignore[attr-defined]
        assert [m.state for m in members] == ["active"]
        assert {self.key(m) for m in members} == self.expected(sandbox, org)

    async def test_lists_completely_under_faults(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, ListsMembers)
        self.seed(sandbox, org, active=[self.email(n) for n in range(self.many_members)],
                  pending=[self.email(f"p{n}") for n in range(5)])
        faulty = self.make_connector(sandbox, org, FAULTY_SETTINGS)
        sandbox.faults(self.kind, **FAULTS)
        try:
            members = await collect(faulty.list_members())  # type: ignore[attr-defined]
        finally:
            await faulty.aclose()
        self.assert_faults_injected(sandbox)
        assert len(members) == self.many_members + 5
        assert {self.key(m) for m in members} == self.expected(sandbox, org)

    async def test_expired_token_is_an_auth_error_without_retries(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, ListsMembers)
        self.seed(sandbox, org, active=[self.email(1)])
        sandbox.faults(self.kind, expire_tokens=True)
        before = self.requests_seen(sandbox)
        with pytest.raises(AuthError) as caught:
            await collect(connector.list_members())  # type: ignore[attr-defined]
        assert self.requests_seen(sandbox) - before == 1
        assert self.token not in str(caught.value) and self.token not in repr(caught.value)

    async def test_unknown_token_is_an_auth_error(self, sandbox: SandboxClient, org: str) -> None:
        connector = self.make_connector(sandbox, org, token="not-a-valid-token")
        try:
            self.require(connector, ListsMembers)
            with pytest.raises(AuthError) as caught:
                await collect(connector.list_members())  # type: ignore[attr-defined]
            assert "not-a-valid-token" not in str(caught.value)
        finally:
            await connector.aclose()
