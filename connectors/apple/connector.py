"""App Store Connect team connector: users, pending invitations, roles.

Remote ids: a user is its ``users`` id; a pending invitation is ``"inv:<userInvitations id>"``
(``remove`` cancels it). Apple gives a user a *set* of roles; ``Member.role`` is the set's highest
role in ``ROLES`` order (``ACCOUNT_HOLDER`` before ``ADMIN`` before the rest), and ``change_role``
sets the set to that one role. ``ACCOUNT_HOLDER`` and ``ADMIN`` are owner level (they manage users
and agreements); the Account Holder cannot be given, invited, re-roled or removed through the API.
No assets here: app visibility (``visibleApps``) is out of this kind's scope.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

from connectors.apple.client import KIND, AppleClient, AppleInvitation, AppleUser
from connectors.base import (
    ChangesRoles,
    InvitesMembers,
    ListsMembers,
    ListsRoles,
    Member,
    RemovesMembers,
    Role,
    same_email,
)
from connectors.errors import InvalidRequest, NotFound

__all__ = ["ACCOUNT_HOLDER", "INVITATION_PREFIX", "ROLES", "AppleConnector", "primary_role", "split_name"]

INVITATION_PREFIX = "inv:"
ACCOUNT_HOLDER = "ACCOUNT_HOLDER"
ROLES: tuple[Role, ...] = (
    Role(ACCOUNT_HOLDER, "Account Holder", owner_level=True),
    Role("ADMIN", "Admin", owner_level=True),
    Role("APP_MANAGER", "App Manager"),
    Role("DEVELOPER", "Developer"),
    Role("FINANCE", "Finance"),
    Role("MARKETING", "Marketing"),
    Role("SALES", "Sales"),
    Role("CUSTOMER_SUPPORT", "Customer Support"),
    Role("ACCESS_TO_REPORTS", "Access to Reports"),
)
_RANK = {role.key: rank for rank, role in enumerate(ROLES)}
_ASSIGNABLE = frozenset(_RANK) - {ACCOUNT_HOLDER}


def primary_role(roles: Sequence[str]) -> str:
    """The highest of ``roles`` in ``ROLES`` order; an unknown-only set keeps its first value."""
    known = sorted((r for r in roles if r in _RANK), key=_RANK.__getitem__)
    return known[0] if known else (roles[0] if roles else "")


def split_name(email: str) -> tuple[str, str]:
    """``firstName`` / ``lastName`` for an invitation (both required by Apple) from the email's
    local part: ``ada.lovelace@x`` -> ``("Ada", "Lovelace")``; one word is used for both."""
    words = [w.capitalize() for w in re.split(r"[._+-]+", email.split("@", 1)[0]) if w] or ["Invitee"]
    return words[0], " ".join(words[1:]) or words[0]


def member_from_user(user: AppleUser) -> Member:
    name = " ".join(p for p in (user.first_name, user.last_name) if p) or None
    return Member(user.id, user.username, user.username, name, primary_role(user.roles), "active")


def member_from_invitation(invitation: AppleInvitation) -> Member:
    name = " ".join(p for p in (invitation.first_name, invitation.last_name) if p) or None
    return Member(f"{INVITATION_PREFIX}{invitation.id}", invitation.email, None, name,
                  primary_role(invitation.roles), "pending")



class AppleConnector(ListsMembers, ListsRoles, InvitesMembers, RemovesMembers, ChangesRoles):
    """Acts on one App Store Connect team (the team of the API key) through ``AppleClient``."""

    kind: ClassVar[str] = KIND

    def __init__(self, client: AppleClient) -> None:
        self.client = client

    async def check(self) -> None:
        """``AuthError`` for a bad key / signature / issuer; ``PermissionDenied`` for a key whose
        role may not read users."""
        await self.client.probe()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def list_members(self) -> AsyncIterator[Member]:
        """Users, then pending invitations, each streamed page by page (``limit`` 200)."""
        async for user in self.client.iter_users():
            yield member_from_user(user)
        async for invitation in self.client.iter_invitations():
            yield member_from_invitation(invitation)

    async def list_roles(self) -> Sequence[Role]:
        return ROLES

    async def invite(self, email: str, role: str) -> Member:
        """``POST /v1/userInvitations`` with ``roles: [role]`` and all apps visible. Already invited
        or on the team (also after a retried POST that took effect): that member, unchanged."""
        self._assignable(role, "invite")
        existing = await self.find_by_email(email)
        if existing is not None:
            return existing
        first, last = split_name(email)
        try:
            return member_from_invitation(await self.client.create_invitation(email, first, last, [role]))
        except InvalidRequest:
            existing = await self.find_by_email(email)
            if existing is None:
                raise
            return existing

    async def find_by_email(self, email: str) -> Member | None:
        """The user (``filter[username]``) or pending invitation (``filter[email]``) for ``email``."""
        async for user in self.client.iter_users(username=email):
            if same_email(user.username, email):
                return member_from_user(user)
        async for invitation in self.client.iter_invitations(email=email):
            if same_email(invitation.email, email):
                return member_from_invitation(invitation)
        return None

    async def remove(self, remote_id: str) -> None:
        """Cancel the invitation (``inv:<id>``) or delete the user; already gone: success."""
        try:
            if remote_id.startswith(INVITATION_PREFIX):
                await self.client.delete_invitation(self._invitation_id(remote_id))
            else:
                await self.client.delete_user(remote_id)
        except NotFound:
            return

    async def change_role(self, remote_id: str, role: str) -> Member:
        """``PATCH /v1/users/{id}`` with ``roles: [role]``. Invitations cannot be edited (cancel and
        invite again); ``ACCOUNT_HOLDER`` cannot be assigned."""
        self._assignable(role, "change_role")
        if remote_id.startswith(INVITATION_PREFIX):
            raise InvalidRequest(KIND, "change_role", "a pending invitation's roles cannot be changed")
        return member_from_user(await self.client.update_roles(remote_id, [role]))

    @staticmethod
    def _assignable(role: str, operation: str) -> None:
        if role not in _ASSIGNABLE:
            raise InvalidRequest(KIND, operation, f"role {role!r} cannot be assigned through the API")

    @staticmethod
    def _invitation_id(remote_id: str) -> str:
        value = remote_id[len(INVITATION_PREFIX):]
        if not value or "/" in value:
            raise InvalidRequest(KIND, "remove", f"malformed invitation id {remote_id!r}")
        return value
