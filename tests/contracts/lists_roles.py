"""``ListsRoles`` contract: the role vocabulary, with owner-level roles marked, matches the catalog."""

from __future__ import annotations

from connectors.base import ListsRoles
from tests.contracts import KindContract


class ListsRolesContract(KindContract):
    async def test_roles_match_the_catalog(self, connector: object, org: str) -> None:
        self.require(connector, ListsRoles)
        roles = list(await connector.list_roles())  # type: ignore[attr-defined]
        keys = [r.key for r in roles]
        assert len(keys) == len(set(keys)) > 0
        assert any(r.owner_level for r in roles)
        assert {r.key for r in self.roles()} <= set(keys)
