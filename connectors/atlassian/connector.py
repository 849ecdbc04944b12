"""Atlassian Cloud organization connector: org users, org-admin role, invite, remove, suspend.

Choices (vendor-apis.md section 7 marks most of this API unverified; see ``client.py`` for the
source of each endpoint):

- Remote id = Atlassian ``account_id`` (an invitation creates or reuses the account, so a pending
  invitee has its final id and ``remove`` works on it).
- Listing streams ``GET /admin/v1/orgs/{orgId}/users`` (``links.next`` cursor). Accounts whose
  ``account_status`` is ``inactive`` (deactivated) or ``closed`` hold no access and are not listed.
- Pending: the v1 listing has no invitation state. An account with no ``last_active`` (never used a
  product of the org) is reported ``"pending"``: an invitation not accepted yet. This is an inference;
  an account provisioned without invitation that never signed in reads ``pending`` too. The v2 user
  record gives the same answer through ``emailVerified`` (false until the invitee signs up), which
  ``invite``/``change_role`` use.
- Roles are organization-level: ``org-admin`` (wire ``atlassian/org-admin``, owner level) or
  ``member`` (no org role). Admins come from one small v2 query (``roleIds=atlassian/org-admin``),
  as GitHub's connector does with ``role=admin``; roles change through the v1 role-assignments
  assign/revoke endpoints. Product roles (``atlassian/user``, ``/admin``, ...) are per product
  resource and not modelled as app roles.
- ``invite`` uses the v2 invite endpoint, idempotent at Atlassian (re-inviting returns the same
  account); ``org-admin`` is assigned after the invitation.
- ``remove`` = remove from directory (``DELETE .../directory/users/{accountId}``); 404 = already gone.
- ``suspend``/``restore`` (suspend-access/restore-access) are offered as extra methods: no capability
  protocol covers them. A suspended user stays listed (``access_billable`` false).
- No assets: products and groups are not modelled (no ``ListsAssets``/``GrantsAssets``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

from connectors.atlassian.client import (
    KIND,
    ORG_ADMIN_ROLE,
    AtlassianClient,
    AtlassianDirectoryUser,
    AtlassianUser,
)
from connectors.base import (
    ChangesRoles,
    InvitesMembers,
    ListsMembers,
    ListsRoles,
    Member,
    MemberState,
    ReadsMember,
    RemovesMembers,
    Role,
)
from connectors.errors import InvalidRequest, NotFound

__all__ = ["LISTED_STATUSES", "ROLES", "AtlassianConnector"]

ROLES: tuple[Role, ...] = (
    Role("org-admin", "Organization admin", owner_level=True),
    Role("member", "Member"),
)
_ROLE_KEYS = tuple(r.key for r in ROLES)
LISTED_STATUSES = ("active",)
"""``account_status`` values that are listed; ``inactive`` and ``closed`` accounts hold no access."""


def _member_from_user(user: AtlassianUser, admins: set[str]) -> Member:
    role = "org-admin" if user.account_id in admins else "member"
    state: MemberState = "active" if user.last_active else "pending"
    return Member(user.account_id, user.email, None, user.name or None, role, state)


def _member_from_directory(user: AtlassianDirectoryUser) -> Member:
    role = "org-admin" if ORG_ADMIN_ROLE in user.platform_roles else "member"
    state: MemberState = "active" if user.email_verified else "pending"
    return Member(user.account_id, user.email, None, user.name, role, state)


class AtlassianConnector(ListsMembers, ListsRoles, InvitesMembers, RemovesMembers, ChangesRoles, ReadsMember):
    """Acts on one organization through ``AtlassianClient``."""

    kind: ClassVar[str] = KIND

    def __init__(self, client: AtlassianClient) -> None:
        self.client = client

    async def check(self) -> None:
        """``GET /admin/v1/orgs/{orgId}``: ``AuthError`` for a bad key, 403/404 for another org."""
        await self.client.get_org()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def list_members(self) -> AsyncIterator[Member]:
        """Org admins first (one small query), then every listed account, page by page."""
        admins = {user.account_id async for user in self.client.iter_role_holders(ORG_ADMIN_ROLE)}
        async for user in self.client.iter_users():
            if user.account_status in LISTED_STATUSES:
                yield _member_from_user(user, admins)

    async def list_roles(self) -> Sequence[Role]:
        return ROLES

    async def invite(self, email: str, role: str) -> Member:
        """Invite (idempotent at Atlassian), then read the account back; a present member is returned
        unchanged (its role is not touched), a new invitee gets ``role``."""
        self._check_role(role, "invite")
        invite = await self.client.invite(email)
        member = _member_from_directory(await self.client.get_directory_user(invite.account_id))
        if member.state == "pending" and member.role != role:
            return await self.change_role(member.remote_id, role)
        return member

    async def remove(self, remote_id: str) -> None:
        """Remove the account from the org's directory; already gone: success."""
        try:
            await self.client.remove_from_directory(remote_id)
        except NotFound:
            return

    async def read_member(self, remote_id: str) -> Member | None:
        """``GET /admin/v2/orgs/{orgId}/directories/-/users/{accountId}``: ``None`` once the account
        left the directory (404) or holds no access (not ``active``, as ``list_members`` skips it)."""
        try:
            user = await self.client.get_directory_user(remote_id)
        except NotFound:
            return None
        return _member_from_directory(user) if user.account_status in LISTED_STATUSES else None

    async def change_role(self, remote_id: str, role: str) -> Member:
        """Assign or revoke ``atlassian/org-admin``; returns the account with the role just set
        (Atlassian applies role assignments eventually, within about 30 s, so it is not read back)."""
        self._check_role(role, "change_role")
        if role == "org-admin":
            await self.client.assign_role(remote_id, ORG_ADMIN_ROLE)
        else:
            await self.client.revoke_role(remote_id, ORG_ADMIN_ROLE)
        member = _member_from_directory(await self.client.get_directory_user(remote_id))
        return Member(member.remote_id, member.email, member.username, member.display_name, role, member.state)

    async def suspend(self, remote_id: str) -> None:
        """Suspend the account's access to the org's products (kept in the directory, not billed)."""
        await self.client.suspend_access(remote_id)

    async def restore(self, remote_id: str) -> None:
        """Restore a suspended account's access (roles and groups come back)."""
        await self.client.restore_access(remote_id)

    @staticmethod
    def _check_role(role: str, operation: str) -> None:
        if role not in _ROLE_KEYS:
            raise InvalidRequest(KIND, operation, f"unknown role {role!r}; expected one of {_ROLE_KEYS}")
