"""The capability contracts, run for the Asana connector against the sandbox.

Asana reports an invited user who has not accepted yet exactly like a member (``is_active: true``,
vendor-apis.md section 5) and the fake mirrors that, so where a contract expects a listed invitation
to read ``pending`` this kind expects ``active``: the listing cannot know better. ``invite`` itself
still returns ``pending`` for a user it had to add (checked by the unchanged invite contract).
"""

from __future__ import annotations

from connectors.base import InvitesMembers, ListsMembers, RemovesMembers
from connectors.sandbox import SandboxClient
from tests.contracts import collect
from tests.contracts.changes_roles import ChangesRolesContract
from tests.contracts.grants_assets import GrantsAssetsContract
from tests.contracts.invites_members import InvitesMembersContract
from tests.contracts.lists_assets import ListsAssetsContract
from tests.contracts.lists_members import ListsMembersContract
from tests.contracts.lists_roles import ListsRolesContract
from tests.contracts.reads_member import ReadsMemberContract, ReadsPermissionContract
from tests.contracts.removes_members import RemovesMembersContract


class TestAsana(
    ListsMembersContract,
    ListsRolesContract,
    ListsAssetsContract,
    InvitesMembersContract,
    RemovesMembersContract,
    ChangesRolesContract,
    GrantsAssetsContract,
    ReadsMemberContract,
    ReadsPermissionContract,
):
    kind = "asana"
    org_id = "1200000000000042"
    asset_type = "project"
    permissions = ("editor", "admin")

    def expected(self, sandbox: SandboxClient, org: str) -> set[tuple[str, str, str]]:
        """What the listing can see: every stored member, invitees reading ``active``."""
        return {(m["remote_id"], "active", m["role"]) for m in self.state(sandbox, org)["members"]}

    async def test_invited_member_is_listed_and_becomes_active_on_accept(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        """Asana's variant: the invitee is listed (as ``active``) before and after accepting."""
        self.require(connector, InvitesMembers)
        self.require(connector, ListsMembers)
        invited = await connector.invite(self.email("acc"), self.plain_role())  # type: ignore[attr-defined]
        assert invited.state == "pending"
        listed = await collect(connector.list_members())  # type: ignore[attr-defined]
        assert [(m.remote_id, m.state) for m in listed] == [(invited.remote_id, "active")]
        assert [m["status"] for m in self.state(sandbox, org)["members"]] == ["pending"]
        sandbox.accept(self.kind, org, self.email("acc"))
        listed = await collect(connector.list_members())  # type: ignore[attr-defined]
        assert [(m.remote_id, m.state) for m in listed] == [(invited.remote_id, "active")]
        assert [m["status"] for m in self.state(sandbox, org)["members"]] == ["active"]

    async def test_removes_a_pending_invitation_by_its_listed_remote_id(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        """Asana's variant: the invitee is found in the listing by email (it reads ``active``)."""
        self.require(connector, RemovesMembers)
        self.require(connector, ListsMembers)
        self.seed(sandbox, org, active=[self.email(1)], pending=[self.email(2)])
        [invitee] = [m for m in await collect(connector.list_members())  # type: ignore[attr-defined]
                     if m.email == self.email(2)]
        await connector.remove(invitee.remote_id)  # type: ignore[attr-defined]
        assert [m["email"] for m in self.state(sandbox, org)["members"]] == [self.email(1)]
