"""Calendly organization connector: members and invitations; no role changes, no assets.

Remote ids: an active member is its organization membership's uuid (``DELETE
/organization_memberships/{uuid}`` removes it); a pending invitation is ``"inv:<invitation uuid>"``
(``remove`` revokes it). Roles are Calendly's membership roles ``owner`` / ``admin`` (both owner
level: they manage the organization's users) and ``user``.

Calendly has no API to change a member's role (UI only, vendor-apis.md section 6), so this
connector does not implement ``ChangesRoles``; and an invitation carries no role: invitees join
as ``user``, so ``invite`` accepts only ``user``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

from connectors.base import (
    InvitesMembers,
    ListsMembers,
    ListsRoles,
    Member,
    ReadsMember,
    RemovesMembers,
    Role,
)
from connectors.calendly.client import KIND, CalendlyClient, CalendlyInvitation, CalendlyMembership
from connectors.errors import InvalidRequest, NotFound

__all__ = ["INVITATION_PREFIX", "INVITE_ROLE", "ROLES", "CalendlyConnector"]

INVITATION_PREFIX = "inv:"
INVITE_ROLE = "user"
ROLES: tuple[Role, ...] = (
    Role("owner", "Owner", owner_level=True),
    Role("admin", "Admin", owner_level=True),
    Role("user", "User"),
)


def member_from_membership(membership: CalendlyMembership) -> Member:
    user = membership.user
    return Member(membership.uuid, user.email, user.slug, user.name, membership.role, "active")


def member_from_invitation(invitation: CalendlyInvitation) -> Member:
    return Member(f"{INVITATION_PREFIX}{invitation.uuid}", invitation.email, None, None, INVITE_ROLE,
                  "pending")


class CalendlyConnector(ListsMembers, ListsRoles, InvitesMembers, RemovesMembers, ReadsMember):
    """Acts on one Calendly organization through ``CalendlyClient``."""

    kind: ClassVar[str] = KIND

    def __init__(self, client: CalendlyClient) -> None:
        self.client = client

    async def check(self) -> None:
        """``AuthError`` for a bad token, ``PermissionDenied`` / ``NotFound`` for an org it cannot see."""
        await self.client.probe()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def list_members(self) -> AsyncIterator[Member]:
        """Active memberships, then pending invitations, each streamed page by page."""
        async for membership in self.client.iter_memberships():
            yield member_from_membership(membership)
        async for invitation in self.client.iter_invitations(status="pending"):
            yield member_from_invitation(invitation)

    async def list_roles(self) -> Sequence[Role]:
        return ROLES

    async def invite(self, email: str, role: str) -> Member:
        """``POST /organizations/{uuid}/invitations``. Invitees always join as ``user`` (the API has
        no role field), so any other role is an ``InvalidRequest`` rather than a silent downgrade.
        Already invited or a member (also after a retried POST that took effect): that member."""
        if role != INVITE_ROLE:
            raise InvalidRequest(KIND, "invite", f"Calendly invitations join as {INVITE_ROLE!r}; "
                                 f"role {role!r} can only be set in Calendly's admin UI")
        existing = await self.find_by_email(email)
        if existing is not None:
            return existing
        try:
            return member_from_invitation(await self.client.create_invitation(email))
        except InvalidRequest:
            existing = await self.find_by_email(email)
            if existing is None:
                raise
            return existing

    async def find_by_email(self, email: str) -> Member | None:
        """The active member or pending invitation with ``email`` (Calendly's ``email`` filters)."""
        async for membership in self.client.iter_memberships(email=email):
            if membership.user.email.casefold() == email.casefold():
                return member_from_membership(membership)
        async for invitation in self.client.iter_invitations(status="pending", email=email):
            if invitation.email.casefold() == email.casefold():
                return member_from_invitation(invitation)
        return None

    async def read_member(self, remote_id: str) -> Member | None:
        """``GET /organization_memberships/{uuid}``, or the invitation's ``GET``: ``None`` once it is
        gone (404), or when the invitation is no longer pending (accepted or declined)."""
        try:
            if remote_id.startswith(INVITATION_PREFIX):
                invitation = await self.client.get_invitation(self._invitation_uuid(remote_id))
                return member_from_invitation(invitation) if invitation.status == "pending" else None
            return member_from_membership(await self.client.get_membership(remote_id))
        except NotFound:
            return None

    async def remove(self, remote_id: str) -> None:
        """Revoke the invitation (``inv:<uuid>``) or remove the membership; already gone: success."""
        try:
            if remote_id.startswith(INVITATION_PREFIX):
                await self.client.revoke_invitation(self._invitation_uuid(remote_id))
            else:
                await self.client.remove_membership(remote_id)
        except NotFound:
            return

    @staticmethod
    def _invitation_uuid(remote_id: str) -> str:
        value = remote_id[len(INVITATION_PREFIX):]
        if not value or "/" in value:
            raise InvalidRequest(KIND, "remove", f"malformed invitation id {remote_id!r}")
        return value
