"""``ReadsMember`` / ``ReadsPermission`` contract: one targeted read answers what the listing would
(the member as listed, or ``None`` once removed), in one request, so a removal is verified without
listing the app (issue 13)."""

from __future__ import annotations

from connectors.base import GrantsAssets, ListsMembers, ReadsMember, ReadsPermission, RemovesMembers
from connectors.sandbox import SandboxClient
from tests.contracts import KindContract, collect


class ReadsMemberContract(KindContract):
    async def test_reads_each_member_as_the_listing_shows_it(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, ReadsMember)
        self.require(connector, ListsMembers)
        self.seed(sandbox, org, active=[self.email(1), self.email(2)], pending=[self.email(3)])
        listed = await collect(connector.list_members())  # type: ignore[attr-defined]
        assert listed
        for member in listed:
            read = await connector.read_member(member.remote_id)  # type: ignore[attr-defined]
            assert read is not None, member
            assert self.key(read) == self.key(member)
            assert (read.email or "").casefold() == (member.email or "").casefold()

    async def test_a_removed_member_reads_as_gone(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, ReadsMember)
        self.require(connector, RemovesMembers)
        self.require(connector, ListsMembers)
        self.seed(sandbox, org, active=[self.email(1), self.email(2)], pending=[self.email(3)])
        listed = await collect(connector.list_members())  # type: ignore[attr-defined]
        gone, kept = listed[0], listed[1:]
        await connector.remove(gone.remote_id)  # type: ignore[attr-defined]
        assert await connector.read_member(gone.remote_id) is None  # type: ignore[attr-defined]
        for member in kept:
            assert await connector.read_member(member.remote_id) is not None  # type: ignore[attr-defined]

    async def test_a_read_is_one_request_whatever_the_size_of_the_app(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, ReadsMember)
        ids = self.seed(sandbox, org, active=[self.email(n) for n in range(120)])
        before = self.requests_seen(sandbox)
        assert await connector.read_member(ids[77]) is not None  # type: ignore[attr-defined]
        assert self.requests_seen(sandbox) - before == 1


class ReadsPermissionContract(KindContract):
    async def test_a_permission_reads_held_until_revoked(
        self, connector: object, sandbox: SandboxClient, org: str
    ) -> None:
        self.require(connector, ReadsPermission)
        self.require(connector, GrantsAssets)
        asset = {"id": "asset-1", "name": "Asset 1", "type": self.asset_type, "grants": []}
        [remote_id] = self.seed(sandbox, org, active=[self.email(1)], assets=[asset])
        assert await connector.holds_permission(remote_id, "asset-1") is False  # type: ignore[attr-defined]
        await connector.grant(remote_id, "asset-1", self.permissions[0])  # type: ignore[attr-defined]
        assert await connector.holds_permission(remote_id, "asset-1") is True  # type: ignore[attr-defined]
        await connector.revoke(remote_id, "asset-1")  # type: ignore[attr-defined]
        assert await connector.holds_permission(remote_id, "asset-1") is False  # type: ignore[attr-defined]
