"""``InvitesMembers`` contract: an invitation is pending state; inviting again has no second effect."""

from __future__ import annotations

from connectors.base import InvitesMembers, ListsMembers
from connectors.sandbox import SandboxClient
from tests.contracts import FAULTS, FAULTY_SETTINGS, KindContract, collect


class InvitesMembersContract(KindContract):
    async def test_invite_creates_one_pending_invitation(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, InvitesMembers)
        member = await connector.invite(self.email("new"), self.plain_role())  # type: ignore[attr-defined]
        assert member.state == "pending"
        assert member.email is not None and member.email.casefold() == self.email("new")
        [stored] = self.members_by_email(sandbox, org)[self.email("new")]
        assert (stored["remote_id"], stored["status"], stored["role"]) == (
            member.remote_id, "pending", self.plain_role())

    async def test_inviting_twice_leaves_one_invitation(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, InvitesMembers)
        first = await connector.invite(self.email("twice"), self.plain_role())  # type: ignore[attr-defined]
        second = await connector.invite(self.email("twice"), self.plain_role())  # type: ignore[attr-defined]
        assert second.remote_id == first.remote_id
        assert len(self.members_by_email(sandbox, org)[self.email("twice")]) == 1
        assert len(self.state(sandbox, org)["members"]) == 1

    async def test_inviting_a_present_member_returns_it(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, InvitesMembers)
        [remote_id] = self.seed(sandbox, org, active=[self.email("here")])
        before = self.state(sandbox, org)
        member = await connector.invite(self.email("here"), self.plain_role())  # type: ignore[attr-defined]
        assert (member.remote_id, member.state) == (remote_id, "active")
        assert self.state(sandbox, org) == before

    async def test_invited_member_is_listed_and_becomes_active_on_accept(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, InvitesMembers)
        self.require(connector, ListsMembers)
        invited = await connector.invite(self.email("acc"), self.plain_role())  # type: ignore[attr-defined]
        listed = await collect(connector.list_members())  # type: ignore[attr-defined]
        assert [(m.remote_id, m.state) for m in listed] == [(invited.remote_id, "pending")]
        sandbox.accept(self.kind, org, self.email("acc"))
        listed = await collect(connector.list_members())  # type: ignore[attr-defined]
        assert [m.state for m in listed] == ["active"]

    async def test_invites_exactly_once_under_faults(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, InvitesMembers)
        self.seed(sandbox, org, active=[self.email(n) for n in range(40)])
        faulty = self.make_connector(sandbox, org, FAULTY_SETTINGS)
        emails = [self.email(f"f{n}") for n in range(6)]
        sandbox.faults(self.kind, **FAULTS)
        try:
            for email in emails + emails:
                await faulty.invite(email, self.plain_role())  # type: ignore[attr-defined]
        finally:
            await faulty.aclose()
        self.assert_faults_injected(sandbox)
        by_email = self.members_by_email(sandbox, org)
        for email in emails:
            assert [m["status"] for m in by_email[email]] == ["pending"], email
        assert len(self.state(sandbox, org)["members"]) == 40 + len(emails)
