"""Slack connector for a workspace of an Enterprise Grid org, through the Web API.

Why the Web API and not SCIM (vendor-apis.md section 4): Slack's SCIM API (Business+ / Enterprise)
does not expose the workspace roles at all (no admin / owner, guests only through an extension), its
``POST /Users`` provisions an account outright instead of inviting, and its ``DELETE`` deactivates
the account org-wide. The Web API gives each operation faithfully:

- list: ``users.list?team_id=`` -- every user with the role flags ``is_primary_owner`` /
  ``is_owner`` / ``is_admin`` / ``is_restricted`` / ``is_ultra_restricted`` and ``is_invited_user``
  for invitations not yet accepted (``admin.users.list`` has the flags but not the invitation state);
- invite: ``admin.users.invite`` -- a real invitation, pending until accepted;
- remove: ``admin.users.remove`` -- takes the user out of this workspace (a pending invitation too);
- change role: ``admin.users.setAdmin`` / ``setOwner`` / ``setRegular``.

The admin methods need Enterprise Grid, an org admin/owner user token, and the workspace's
``team_id`` (hence ``needs_business_id``).

Roles: ``primary_owner``, ``owner``, ``admin`` (all owner level: they manage members and settings),
``member``, ``multi_channel_guest``, ``single_channel_guest``. Limits Slack imposes and this
connector keeps: the primary owner cannot be assigned (ownership transfer is UI-only); a member
cannot be turned into a guest and nobody can be invited as admin/owner through the API; guests cannot
be invited into ``#general``, the channel every invitation joins here, so guest invitations are
refused rather than sent to an arbitrary channel. Remote id: the user id (``U...``), the same before
and after an invitation is accepted. Bots, app users and Slackbot are not members.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

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
    same_email,
)
from connectors.errors import InvalidRequest, NotFound, VendorUnavailable
from connectors.slack.client import KIND, SLACKBOT_ID, SlackClient, SlackUser

__all__ = ["ROLES", "SlackConnector", "role_of"]

ROLES: tuple[Role, ...] = (
    Role("primary_owner", "Primary Owner", owner_level=True),
    Role("owner", "Workspace Owner", owner_level=True),
    Role("admin", "Workspace Admin", owner_level=True),
    Role("member", "Member"),
    Role("multi_channel_guest", "Multi-Channel Guest"),
    Role("single_channel_guest", "Single-Channel Guest"),
)
_SETTERS = {"admin": "admin.users.setAdmin", "owner": "admin.users.setOwner", "member": "admin.users.setRegular"}
_ROLE_KEYS = frozenset(r.key for r in ROLES)


def role_of(user: SlackUser) -> str:
    """The role key from Slack's flags, most privileged first."""
    if user.is_primary_owner:
        return "primary_owner"
    if user.is_owner:
        return "owner"
    if user.is_admin:
        return "admin"
    if user.is_ultra_restricted:
        return "single_channel_guest"
    if user.is_restricted:
        return "multi_channel_guest"
    return "member"


def _is_member(user: SlackUser) -> bool:
    """People in the workspace or invited to it; not bots, apps, Slackbot or deactivated accounts."""
    if user.is_bot or user.is_app_user or user.id == SLACKBOT_ID:
        return False
    return user.is_invited_user or not user.deleted


def _member(user: SlackUser) -> Member:
    state: MemberState = "pending" if user.is_invited_user else "active"
    return Member(user.id, user.email, user.name or None, user.real_name, role_of(user), state)



class SlackConnector(ListsMembers, ListsRoles, InvitesMembers, RemovesMembers, ChangesRoles, ReadsMember):
    """Acts on one workspace through ``SlackClient``."""

    kind: ClassVar[str] = KIND

    def __init__(self, client: SlackClient) -> None:
        self.client = client
        self._general: str | None = None

    async def check(self) -> None:
        """``auth.test`` then ``team.info``: ``AuthError``, ``PermissionDenied`` or ``NotFound``."""
        await self.client.auth_test()
        await self.client.team_info()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def list_members(self) -> AsyncIterator[Member]:
        """``users.list`` pages; invitations (``is_invited_user``) are ``pending``."""
        async for user in self.client.iter_users():
            if _is_member(user):
                yield _member(user)

    async def list_roles(self) -> Sequence[Role]:
        return ROLES

    async def invite(self, email: str, role: str) -> Member:
        """``admin.users.invite`` into ``#general`` as a full member. Slack keys users by email, so a
        retried call cannot create a second invitation; ``already_invited`` / ``already_in_team``
        (or any refusal while the email is known) returns that user."""
        if role != "member":
            raise InvalidRequest(KIND, "invite", f"Slack invitations through the API are for role 'member' only, "
                                 f"not {role!r} (see the connector notes)")
        try:
            await self.client.invite(email, [await self._general_channel()])
        except InvalidRequest:
            if (found := await self.find_by_email(email)) is None:
                raise
            return found
        invited = await self.find_by_email(email)
        if invited is None:
            raise VendorUnavailable(KIND, "invite", "the invitation was accepted but is not visible yet")
        return invited

    async def find_by_email(self, email: str) -> Member | None:
        """``users.lookupByEmail``, else a ``users.list`` scan (invitations may be missing from the
        lookup); ``None`` when nobody in the workspace has ``email``."""
        try:
            user = await self.client.lookup_by_email(email)
            if _is_member(user):
                return _member(user)
        except NotFound:
            pass
        async for user in self.client.iter_users():
            if _is_member(user) and same_email(user.email, email):
                return _member(user)
        return None

    async def _general_channel(self) -> str:
        if self._general is None:
            async for channel in self.client.iter_channels():
                if channel.is_general:
                    self._general = channel.id
                    break
            else:
                raise NotFound(KIND, "invite", "the workspace has no #general channel visible to the token")
        return self._general

    async def remove(self, remote_id: str) -> None:
        """``admin.users.remove``: out of the workspace, or the invitation withdrawn. Gone: success."""
        try:
            await self.client.remove(remote_id)
        except NotFound:
            return

    async def read_member(self, remote_id: str) -> Member | None:
        """``users.info``: the person or invitation, or ``None`` once removed (``user_not_found``, or
        a deactivated account: Slack's removal)."""
        try:
            user = await self.client.user_info(remote_id)
        except NotFound:
            return None
        return _member(user) if _is_member(user) else None

    async def change_role(self, remote_id: str, role: str) -> Member:
        """``admin.users.setAdmin`` / ``setOwner`` / ``setRegular``, then ``users.info``."""
        if role not in _ROLE_KEYS:
            raise InvalidRequest(KIND, "change_role", f"unknown role {role!r}")
        method = _SETTERS.get(role)
        if method is None:
            raise InvalidRequest(KIND, "change_role", f"Slack's API cannot assign {role!r}")
        await self.client.set_role(method, remote_id)
        return _member(await self.client.user_info(remote_id))
