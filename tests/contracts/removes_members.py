"""``RemovesMembers`` contract: removes members and pending invitations; already gone is success."""

from __future__ import annotations

from connectors.base import ListsMembers, RemovesMembers
from connectors.sandbox import SandboxClient
from tests.contracts import FAULTS, FAULTY_SETTINGS, KindContract, collect


class RemovesMembersContract(KindContract):
    async def test_removes_an_active_member(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, RemovesMembers)
        gone, kept = self.seed(sandbox, org, active=[self.email(1), self.email(2)])
        await connector.remove(gone)  # type: ignore[attr-defined]
        assert [m["remote_id"] for m in self.state(sandbox, org)["members"]] == [kept]

    async def test_removes_a_pending_invitation_by_its_listed_remote_id(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, RemovesMembers)
        self.require(connector, ListsMembers)
        self.seed(sandbox, org, active=[self.email(1)], pending=[self.email(2)])
        [pending] = [m for m in await collect(connector.list_members())  # type: ignore[attr-defined]
                     if m.state == "pending"]
        await connector.remove(pending.remote_id)  # type: ignore[attr-defined]
        assert [m["email"] for m in self.state(sandbox, org)["members"]] == [self.email(1)]

    async def test_removing_twice_succeeds(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, RemovesMembers)
        active, pending = self.seed(sandbox, org, active=[self.email(1)], pending=[self.email(2)])
        for remote_id in (active, pending, active, pending):
            await connector.remove(remote_id)  # type: ignore[attr-defined]
        assert self.state(sandbox, org)["members"] == []

    async def test_removal_drops_asset_grants(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, RemovesMembers)
        asset = {"id": "asset-1", "name": "Asset 1", "type": self.asset_type,
                 "grants": [{"email": self.email(1), "permission": self.permissions[0]}]}
        [remote_id] = self.seed(sandbox, org, active=[self.email(1)], assets=[asset])
        await connector.remove(remote_id)  # type: ignore[attr-defined]
        assert self.state(sandbox, org)["assets"][0]["grants"] == []

    async def test_removes_everyone_under_faults(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, RemovesMembers)
        ids = self.seed(sandbox, org, active=[self.email(n) for n in range(8)],
                        pending=[self.email(f"p{n}") for n in range(4)])
        faulty = self.make_connector(sandbox, org, FAULTY_SETTINGS)
        sandbox.faults(self.kind, **FAULTS)
        try:
            for remote_id in ids:
                await faulty.remove(remote_id)  # type: ignore[attr-defined]
        finally:
            await faulty.aclose()
        self.assert_faults_injected(sandbox)
        assert self.state(sandbox, org)["members"] == []
