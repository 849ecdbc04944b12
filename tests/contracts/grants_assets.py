"""``GrantsAssets`` contract: grant and revoke are idempotent and leave exactly one grant or none."""

from __future__ import annotations

from typing import Any

from connectors.base import GrantsAssets
from connectors.sandbox import SandboxClient
from tests.contracts import KindContract


class GrantsAssetsContract(KindContract):
    def grants(self, sandbox: SandboxClient, org: str, asset_id: str) -> list[dict[str, Any]]:
        [asset] = [a for a in self.state(sandbox, org)["assets"] if a["id"] == asset_id]
        return list(asset["grants"])

    def seed_asset(self, sandbox: SandboxClient, org: str) -> str:
        asset = {"id": "asset-1", "name": "Asset 1", "type": self.asset_type, "grants": []}
        [remote_id] = self.seed(sandbox, org, active=[self.email(1)], assets=[asset])
        return remote_id

    async def test_grant_twice_leaves_one_grant(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, GrantsAssets)
        remote_id = self.seed_asset(sandbox, org)
        for _ in range(2):
            await connector.grant(remote_id, "asset-1", self.permissions[0])  # type: ignore[attr-defined]
        assert self.grants(sandbox, org, "asset-1") == [
            {"remote_id": remote_id, "permission": self.permissions[0]}]

    async def test_grant_changes_the_permission(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, GrantsAssets)
        remote_id = self.seed_asset(sandbox, org)
        await connector.grant(remote_id, "asset-1", self.permissions[0])  # type: ignore[attr-defined]
        await connector.grant(remote_id, "asset-1", self.permissions[1])  # type: ignore[attr-defined]
        assert self.grants(sandbox, org, "asset-1") == [
            {"remote_id": remote_id, "permission": self.permissions[1]}]

    async def test_revoke_twice_succeeds(self, connector: object, sandbox: SandboxClient, org: str) -> None:
        self.require(connector, GrantsAssets)
        remote_id = self.seed_asset(sandbox, org)
        await connector.grant(remote_id, "asset-1", self.permissions[0])  # type: ignore[attr-defined]
        for _ in range(2):
            await connector.revoke(remote_id, "asset-1")  # type: ignore[attr-defined]
        assert self.grants(sandbox, org, "asset-1") == []
