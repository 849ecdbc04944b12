"""``ListsAssets`` contract: every asset, and every member's permission on it."""

from __future__ import annotations

from connectors.base import ListsAssets
from connectors.sandbox import SandboxClient
from tests.contracts import KindContract, collect


class ListsAssetsContract(KindContract):
    async def test_lists_assets_and_permissions(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, ListsAssets)
        first, second = self.permissions
        assets = [
            {"id": "asset-1", "name": "Asset 1", "type": self.asset_type,
             "grants": [{"email": self.email(1), "permission": first},
                        {"email": self.email(2), "permission": second}]},
            {"id": "asset-2", "name": "Asset 2", "type": self.asset_type, "grants": []},
        ]
        self.seed(sandbox, org, active=[self.email(1), self.email(2), self.email(3)], assets=assets)
        listed = await collect(connector.list_assets())  # type: ignore[attr-defined]
        state = {a["id"]: a for a in self.state(sandbox, org)["assets"]}
        assert sorted(a.id for a in listed) == sorted(state)
        for asset in listed:
            permissions = await collect(connector.list_permissions(asset))  # type: ignore[attr-defined]
            assert {(p.remote_id, p.asset_id, p.permission) for p in permissions} == {
                (g["remote_id"], asset.id, g["permission"]) for g in state[asset.id]["grants"]}

    async def test_no_assets(self, connector: object, org: str) -> None:
        self.require(connector, ListsAssets)
        assert await collect(connector.list_assets()) == []  # type: ignore[attr-defined]
