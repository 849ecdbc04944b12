"""``ChangesRoles`` contract: sets an active member's app role; the same role again is no change."""

from __future__ import annotations

from connectors.base import ChangesRoles
from connectors.sandbox import SandboxClient
from tests.contracts import KindContract


class ChangesRolesContract(KindContract):
    async def test_promotes_and_demotes(self, connector: object, sandbox: SandboxClient, org: str) -> None:
        self.require(connector, ChangesRoles)
        [remote_id] = self.seed(sandbox, org, active=[self.email(1)])
        promoted = await connector.change_role(remote_id, self.admin_role())  # type: ignore[attr-defined]
        assert (promoted.remote_id, promoted.role) == (remote_id, self.admin_role())
        assert self.state(sandbox, org)["members"][0]["role"] == self.admin_role()
        demoted = await connector.change_role(remote_id, self.plain_role())  # type: ignore[attr-defined]
        assert demoted.role == self.plain_role()
        assert self.state(sandbox, org)["members"][0]["role"] == self.plain_role()

    async def test_same_role_twice_is_one_state(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, ChangesRoles)
        [remote_id] = self.seed(sandbox, org, active=[self.email(1)])
        for _ in range(2):
            member = await connector.change_role(remote_id, self.admin_role())  # type: ignore[attr-defined]
            assert member.role == self.admin_role()
        [stored] = self.state(sandbox, org)["members"]
        assert (stored["remote_id"], stored["role"], stored["status"]) == (
            remote_id, self.admin_role(), "active")
