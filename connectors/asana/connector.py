"""Asana workspace connector: workspace members, addUser/removeUser, projects as assets.

Remote ids are user gids (the same before and after an invitation is accepted).

Roles come from the workspace membership flags: ``is_admin`` -> ``admin`` (owner level),
``is_guest`` -> ``guest``, else ``member``. Asana's API cannot set them (no endpoint changes a
workspace role), so there is no ``ChangesRoles``, and ``invite`` only takes ``member``:
``addUser`` has no role parameter.

Pending invitations: Asana reports an invited user who never accepted exactly like a member
(``is_active: true``, vendor-apis.md section 5), so ``list_members`` reports every active
membership as ``"active"``. Only ``invite`` knows better: it looks the email up first, and a user it
had to add is returned as ``"pending"`` (a retried ``addUser`` returns the same user, so this holds
under faults). Memberships with ``is_active: false`` (deactivated) are not listed.

Assets are the workspace's projects (type ``project``); permissions are project ``access_level``
values ``admin|editor|commenter|viewer`` handled through ``/memberships``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

from connectors.asana.client import (
    KIND,
    AsanaClient,
    AsanaMembership,
    AsanaUser,
    AsanaWorkspaceMembership,
)
from connectors.base import (
    Asset,
    GrantsAssets,
    InvitesMembers,
    ListsAssets,
    ListsMembers,
    ListsRoles,
    Member,
    Permission,
    ReadsMember,
    ReadsPermission,
    RemovesMembers,
    Role,
)
from connectors.errors import InvalidRequest, NotFound

__all__ = ["ASSET_TYPE", "PERMISSIONS", "ROLES", "AsanaConnector"]

ROLES: tuple[Role, ...] = (
    Role("admin", "Admin", owner_level=True),
    Role("member", "Member"),
    Role("guest", "Guest"),
)
PERMISSIONS = ("admin", "editor", "commenter", "viewer")
ASSET_TYPE = "project"
_INVITABLE = ("member",)


def _role(membership: AsanaWorkspaceMembership) -> str:
    if membership.is_admin:
        return "admin"
    return "guest" if membership.is_guest else "member"


def _member(membership: AsanaWorkspaceMembership) -> Member:
    user = membership.user
    return Member(user.gid, user.email, None, user.name, _role(membership), "active")


def _invited(user: AsanaUser, email: str) -> Member:
    return Member(user.gid, user.email or email, None, user.name, "member", "pending")


class AsanaConnector(ListsMembers, ListsRoles, ListsAssets, InvitesMembers, RemovesMembers, GrantsAssets,
                     ReadsMember, ReadsPermission):
    """Acts on one workspace through ``AsanaClient``."""

    kind: ClassVar[str] = KIND

    def __init__(self, client: AsanaClient) -> None:
        self.client = client

    async def check(self) -> None:
        """``GET /workspaces/{gid}``: ``AuthError`` for a bad token, ``NotFound`` for a hidden workspace."""
        await self.client.get_workspace()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def list_members(self) -> AsyncIterator[Member]:
        """Active workspace memberships (invited users included, reported ``"active"``)."""
        async for membership in self.client.iter_workspace_memberships():
            if membership.is_active:
                yield _member(membership)

    async def list_roles(self) -> Sequence[Role]:
        return ROLES

    async def find(self, user: str) -> Member | None:
        """The active member with gid or email ``user``, or ``None``."""
        try:
            async for membership in self.client.iter_workspace_memberships(user=user):
                if membership.is_active:
                    return _member(membership)
        except NotFound:
            return None
        return None

    async def invite(self, email: str, role: str) -> Member:
        """``addUser`` by email unless the email is already a member (then that member, unchanged)."""
        if role not in _INVITABLE:
            raise InvalidRequest(KIND, "invite", f"Asana's addUser cannot grant role {role!r}; use 'member'")
        existing = await self.find(email)
        if existing is not None:
            return existing
        return _invited(await self.client.add_user(email), email)

    async def remove(self, remote_id: str) -> None:
        """``removeUser`` by gid (member or invitee alike); already gone: success."""
        try:
            await self.client.remove_user(remote_id)
        except NotFound:
            return

    async def list_assets(self) -> AsyncIterator[Asset]:
        async for project in self.client.iter_projects():
            yield Asset(project.gid, project.name, ASSET_TYPE)

    async def list_permissions(self, asset: Asset) -> AsyncIterator[Permission]:
        async for membership in self.client.iter_memberships(asset.id):
            yield Permission(membership.member_gid, asset.id, membership.access_level)

    async def read_member(self, remote_id: str) -> Member | None:
        """``GET /workspaces/{gid}/workspace_memberships?user={gid}``: one membership, or ``None``
        once the user left the workspace."""
        return await self.find(remote_id)

    async def holds_permission(self, remote_id: str, asset_id: str) -> bool:
        """``GET /memberships?parent={project}&member={gid}``: whether the user is still a member."""
        try:
            return await self._membership(remote_id, asset_id) is not None
        except NotFound:
            return False

    async def _membership(self, remote_id: str, asset_id: str) -> AsanaMembership | None:
        async for membership in self.client.iter_memberships(asset_id, member=remote_id):
            if membership.member_gid == remote_id:
                return membership
        return None

    async def grant(self, remote_id: str, asset_id: str, permission: str) -> None:
        """Create the project membership, or set its ``access_level``; one membership however often
        called (a retried ``POST`` that took effect is answered 400, then found and updated)."""
        if permission not in PERMISSIONS:
            raise InvalidRequest(KIND, "grant", f"unknown access_level {permission!r}")
        existing = await self._membership(remote_id, asset_id)
        if existing is None:
            try:
                await self.client.create_membership(asset_id, remote_id, permission)
                return
            except InvalidRequest:
                existing = await self._membership(remote_id, asset_id)
                if existing is None:
                    raise
        if existing.access_level != permission:
            await self.client.update_membership(existing.gid, permission)

    async def revoke(self, remote_id: str, asset_id: str) -> None:
        """Delete the member's project membership; none (or already deleted): success."""
        existing = await self._membership(remote_id, asset_id)
        if existing is None:
            return
        try:
            await self.client.delete_membership(existing.gid)
        except NotFound:
            return
