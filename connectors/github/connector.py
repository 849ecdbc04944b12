"""GitHub organization connector: members, invitations, base roles, repos as assets.

Remote ids: an active member is its ``login``; a pending invitation is ``"inv:<invitation id>"``
(``remove`` cancels it). Roles are GitHub's base org roles (``admin`` is owner level). Assets are the
org's repositories (id = repo name) and permissions are the collaborator ``permission`` values
``pull|triage|push|maintain|admin`` (GitHub reports them as ``role_name`` read/triage/write/...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

from connectors.base import (
    Asset,
    ChangesRoles,
    GrantsAssets,
    InvitesMembers,
    ListsAssets,
    ListsMembers,
    ListsRoles,
    Member,
    MemberState,
    Permission,
    ReadsMember,
    ReadsPermission,
    RemovesMembers,
    Role,
    same_email,
)
from connectors.errors import InvalidRequest, NotFound
from connectors.github.client import (
    KIND,
    GitHubClient,
    GitHubInvitation,
    GitHubMembership,
)

__all__ = ["INVITATION_PREFIX", "PERMISSIONS", "ROLES", "GitHubConnector"]

INVITATION_PREFIX = "inv:"
ROLES: tuple[Role, ...] = (
    Role("admin", "Owner", owner_level=True),
    Role("member", "Member"),
)
PERMISSIONS = ("pull", "triage", "push", "maintain", "admin")
_ROLE_NAME_TO_PERMISSION = {"read": "pull", "write": "push"}
_INVITE_ROLE = {"admin": "admin", "member": "direct_member"}


def _member_from_invitation(invitation: GitHubInvitation) -> Member:
    role = "member" if invitation.role == "direct_member" else invitation.role
    return Member(f"{INVITATION_PREFIX}{invitation.id}", invitation.email, invitation.login, None, role, "pending")


def _member_from_membership(membership: GitHubMembership) -> Member:
    state: MemberState = "pending" if membership.state == "pending" else "active"
    user = membership.user
    return Member(user.login, user.email, user.login, user.name, membership.role, state)



class GitHubConnector(ListsMembers, ListsRoles, ListsAssets, InvitesMembers, RemovesMembers,
                      ChangesRoles, GrantsAssets, ReadsMember, ReadsPermission):
    """Acts on one organization through ``GitHubClient``."""

    kind: ClassVar[str] = KIND

    def __init__(self, client: GitHubClient) -> None:
        self.client = client

    async def check(self) -> None:
        """``GET /orgs/{org}``: ``AuthError`` for a bad token, ``NotFound`` for an org it cannot see."""
        await self.client.get_org()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def list_members(self) -> AsyncIterator[Member]:
        """Active members (role from the small ``role=admin`` listing), then pending invitations."""
        async for member in self.list_active():
            yield member
        async for invitation in self.client.iter_invitations():
            yield _member_from_invitation(invitation)

    async def list_roles(self) -> Sequence[Role]:
        return ROLES

    async def list_assets(self) -> AsyncIterator[Asset]:
        async for repo in self.client.iter_repos():
            yield Asset(repo.name, repo.name, "repository")

    async def list_permissions(self, asset: Asset) -> AsyncIterator[Permission]:
        """Direct collaborators only: org owners' implicit admin access is not a grant."""
        async for collaborator in self.client.iter_collaborators(asset.id, affiliation="direct"):
            permission = _ROLE_NAME_TO_PERMISSION.get(collaborator.role_name, collaborator.role_name)
            yield Permission(collaborator.user.login, asset.id, permission)

    async def invite(self, email: str, role: str) -> Member:
        """``POST /orgs/{org}/invitations``. On a 422 (already invited or a member, including after a
        retried POST whose first attempt took effect) the existing member is looked up and returned."""
        if role not in _INVITE_ROLE:
            raise InvalidRequest(KIND, "invite", f"unknown role {role!r}")
        try:
            return _member_from_invitation(await self.client.create_invitation(email, _INVITE_ROLE[role]))
        except InvalidRequest:
            existing = await self.find_by_email(email)
            if existing is None:
                raise
            return existing

    async def find_by_email(self, email: str) -> Member | None:
        """The pending invitation or active member (public email) with ``email``, or ``None``."""
        async for invitation in self.client.iter_invitations():
            if same_email(invitation.email, email):
                return _member_from_invitation(invitation)
        async for member in self.list_active():
            if same_email(member.email, email):
                return member
        return None

    async def list_active(self) -> AsyncIterator[Member]:
        """Active members; admins come from ``?role=admin`` (few), so one more pass, no per-user call."""
        admins = {item["login"] async for item in self.client.iter_member_items("admin")}
        async for item in self.client.iter_member_items("all"):
            login = item["login"]
            yield Member(login, item.get("email"), login, item.get("name"), "admin" if login in admins else "member",
                         "active")  # fmt: skip

    async def remove(self, remote_id: str) -> None:
        """Cancel the invitation (``inv:<id>``) or remove the membership; already gone: success."""
        try:
            if remote_id.startswith(INVITATION_PREFIX):
                await self.client.cancel_invitation(self._invitation_id(remote_id))
            else:
                await self.client.remove_membership(remote_id)
        except NotFound:
            return

    async def read_member(self, remote_id: str) -> Member | None:
        """``GET /orgs/{org}/memberships/{login}`` (404: gone); an invitation has no single read
        on GitHub, so it is looked for among the pending invitations (few)."""
        if remote_id.startswith(INVITATION_PREFIX):
            async for invitation in self.client.iter_invitations():
                if f"{INVITATION_PREFIX}{invitation.id}" == remote_id:
                    return _member_from_invitation(invitation)
            return None
        try:
            return _member_from_membership(await self.client.get_membership(remote_id))
        except NotFound:
            return None

    async def holds_permission(self, remote_id: str, asset_id: str) -> bool:
        if remote_id.startswith(INVITATION_PREFIX):
            return False
        return await self.client.is_collaborator(asset_id, remote_id)

    async def change_role(self, remote_id: str, role: str) -> Member:
        """``PUT /orgs/{org}/memberships/{login}``. GitHub has no API to re-role an invitation."""
        if role not in _INVITE_ROLE:
            raise InvalidRequest(KIND, "change_role", f"unknown role {role!r}")
        if remote_id.startswith(INVITATION_PREFIX):
            raise InvalidRequest(KIND, "change_role", "a pending invitation's role cannot be changed")
        return _member_from_membership(await self.client.set_membership(remote_id, role))

    async def grant(self, remote_id: str, asset_id: str, permission: str) -> None:
        """``PUT .../collaborators/{login}``: sets the permission (one grant however often called)."""
        if permission not in PERMISSIONS:
            raise InvalidRequest(KIND, "grant", f"unknown permission {permission!r}")
        if remote_id.startswith(INVITATION_PREFIX):
            raise InvalidRequest(KIND, "grant", "a pending invitation cannot be a collaborator")
        await self.client.add_collaborator(asset_id, remote_id, permission)

    async def revoke(self, remote_id: str, asset_id: str) -> None:
        """``DELETE .../collaborators/{login}``; not a collaborator (or unknown): success."""
        if remote_id.startswith(INVITATION_PREFIX):
            return
        try:
            await self.client.remove_collaborator(asset_id, remote_id)
        except NotFound:
            return

    @staticmethod
    def _invitation_id(remote_id: str) -> int:
        value = remote_id[len(INVITATION_PREFIX):]
        if not value.isdigit():
            raise InvalidRequest(KIND, "remove", f"malformed invitation id {remote_id!r}")
        return int(value)
