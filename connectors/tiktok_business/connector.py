"""TikTok Business Center connector: BC members, invitations, BC roles, assets and App Authorization.

Remote ids: a bound member is its ``user_id`` (a numeric string); a pending invitation is
``"pending:<email>"`` because TikTok revokes invitations by ``user_email`` (``bc/member/delete``).
Roles are the BC ``user_role`` values ``ADMIN`` (owner level) and ``STANDARD``. Assets are the BC's
assets of ``asset_types`` (ad accounts first); a permission is the value of the asset type's role
field (``advertiser_role`` ``ADMIN|OPERATOR|ANALYST`` ...; for ``TT_ACCOUNT`` the sorted
``tt_account_roles`` joined with ``,``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, ClassVar

from connectors.base import (
    Asset,
    Authorizes,
    AutomationAccount,
    ChangesRoles,
    Credentials,
    GrantsAssets,
    InvitesMembers,
    ListsAssets,
    ListsMembers,
    ListsRoles,
    Member,
    Permission,
    RemovesMembers,
    Role,
    same_email,
)
from connectors.errors import InvalidRequest, NotFound, PermissionDenied
from connectors.tiktok_business.client import KIND, ROLE_FIELDS, TikTokClient, TikTokMember

if TYPE_CHECKING:
    from connectors.tiktok_business.authorization import AppAuthorization

__all__ = ["ASSET_TYPES", "PENDING_PREFIX", "PERMISSIONS", "ROLES", "TikTokBusinessConnector"]

PENDING_PREFIX = "pending:"
ROLES: tuple[Role, ...] = (
    Role("ADMIN", "Admin", owner_level=True),
    Role("STANDARD", "Standard"),
)
ASSET_TYPES: tuple[str, ...] = ("ADVERTISER", "CATALOG", "TIKTOK_SHOP", "LEAD", "TT_ACCOUNT")
"""Asset types that carry per-member roles (``bc/asset/assign`` role fields)."""

PERMISSIONS: dict[str, frozenset[str]] = {
    "ADVERTISER": frozenset({"ADMIN", "OPERATOR", "ANALYST"}),
    "CATALOG": frozenset({"ADMIN", "AD_PROMOTE"}),
    "TIKTOK_SHOP": frozenset({"MANAGER", "AD_PROMOTION"}),
    "LEAD": frozenset({"ADMIN"}),
    "TT_ACCOUNT": frozenset({"POST", "LIVE", "DIRECT_MESSAGE"}),  # any non-empty set, "A,B"
}
_STATES = {"BOUND": "active", "PENDING": "pending"}


def _to_member(row: TikTokMember) -> Member | None:
    """Our ``Member`` for a listed row; ``None`` for rows that are no membership (UNBOUND, REJECTED)."""
    state = _STATES.get(row.relation_status)
    if state is None or (state == "active" and row.user_id is None):
        return None
    remote_id = row.user_id if state == "active" else f"{PENDING_PREFIX}{row.user_email}"
    return Member(remote_id or "", row.user_email, None, row.user_name or None, row.user_role,
                  state)  # type: ignore[arg-type]



def canonical_permission(asset_type: str, permission: str) -> str:
    """``permission`` validated for ``asset_type``; TT account roles sorted (``"LIVE,POST"``)."""
    allowed = PERMISSIONS.get(asset_type)
    if allowed is None:
        raise InvalidRequest(KIND, "grant", f"asset type {asset_type!r} has no member roles")
    parts = sorted({p.strip() for p in permission.split(",")}) if asset_type == "TT_ACCOUNT" else [permission]
    if not parts or not set(parts) <= allowed:
        raise InvalidRequest(KIND, "grant", f"invalid {ROLE_FIELDS[asset_type]} {permission!r}")
    return ",".join(parts)


class TikTokBusinessConnector(ListsMembers, ListsRoles, ListsAssets, InvitesMembers, RemovesMembers,
                              ChangesRoles, GrantsAssets, Authorizes):
    """Acts on one Business Center through ``TikTokClient``; ``authorization`` runs App Authorization."""

    kind: ClassVar[str] = KIND

    def __init__(self, client: TikTokClient, authorization: AppAuthorization | None = None,
                 asset_types: Sequence[str] = ASSET_TYPES) -> None:
        self.client = client
        self.authorization = authorization
        self.asset_types = tuple(asset_types)
        self._asset_types: dict[str, str] = {}  # asset id -> asset type, learnt from listings

    async def check(self) -> None:
        """``GET bc/get/``: ``AuthError`` for a bad token, ``PermissionDenied`` if the BC is not reached."""
        async for business in self.client.iter_businesses():
            if business.bc_id == self.client.bc_id:
                return
        raise PermissionDenied(KIND, "check", "the token does not reach this Business Center")

    async def aclose(self) -> None:
        await self.client.aclose()

    async def authorize(self, account: AutomationAccount) -> Credentials:
        """TikTok's App Authorization in headless Chromium, then the ``auth_code`` exchange."""
        if self.authorization is None:
            raise InvalidRequest(KIND, "authorize", "no App Authorization configured for this connector")
        return await self.authorization.run(account)

    # -- members ---------------------------------------------------------------------------------

    async def list_members(self) -> AsyncIterator[Member]:
        """Bound members and pending invitations, in TikTok's order, page by page."""
        async for row in self.client.iter_members():
            member = _to_member(row)
            if member is not None:
                yield member

    async def list_roles(self) -> Sequence[Role]:
        return ROLES

    async def find_by_email(self, email: str) -> Member | None:
        """The member or pending invitation with ``email`` (``filtering.keyword``, exact match kept)."""
        async for row in self.client.iter_members({"keyword": email}, operation="find_member"):
            member = _to_member(row)
            if member is not None and same_email(member.email, email):
                return member
        return None

    async def invite(self, email: str, role: str) -> Member:
        """``bc/member/invite`` then look the row up (TikTok answers ``data: {}`` and ignores a
        re-invite, so a retried or repeated invite leaves one invitation)."""
        self._check_role(role, "invite")
        try:
            await self.client.invite([email], role)
        except InvalidRequest:
            existing = await self.find_by_email(email)  # e.g. rejected because already a member
            if existing is None:
                raise
            return existing
        member = await self.find_by_email(email)
        if member is None:
            raise NotFound(KIND, "invite", "the invitation is not listed after inviting")
        return member

    async def remove(self, remote_id: str) -> None:
        """Delete by ``user_id`` or revoke by ``user_email``; 40007 (already gone) is success."""
        try:
            if remote_id.startswith(PENDING_PREFIX):
                await self.client.delete_member(user_email=remote_id[len(PENDING_PREFIX):])
            else:
                await self.client.delete_member(user_id=self._user_id(remote_id, "remove"))
        except NotFound:
            return

    async def change_role(self, remote_id: str, role: str) -> Member:
        """``bc/member/update`` ``user_role``; returns the member as listed under its new role."""
        self._check_role(role, "change_role")
        user_id = self._user_id(remote_id, "change_role")
        await self.client.update_member(user_id, role)
        async for row in self.client.iter_members({"user_role": role}, operation="change_role"):
            if row.user_id == user_id:
                member = _to_member(row)
                if member is not None:
                    return member
        raise NotFound(KIND, "change_role", "the member is not listed after the update")

    # -- assets ----------------------------------------------------------------------------------

    async def list_assets(self) -> AsyncIterator[Asset]:
        for asset_type in self.asset_types:
            async for asset in self.client.iter_assets(asset_type):
                self._asset_types[asset.asset_id] = asset.asset_type
                yield Asset(asset.asset_id, asset.asset_name, asset.asset_type)

    async def list_permissions(self, asset: Asset) -> AsyncIterator[Permission]:
        """``bc/asset/member/get``: bound members holding a role on ``asset``.

        TikTok refuses the call without the asset's type (40002), and callers that know an asset
        only by id (a removal's verifying re-read) pass ``Asset(id, id, "")``: an ``asset.type``
        that is not a TikTok asset type is replaced by the type this Business Center lists for the
        id (learnt from ``list_assets``, listing again if needed). An asset no longer listed has no
        permissions left.
        """
        asset_type = asset.type
        if asset_type not in self.asset_types:
            try:
                asset_type = await self.asset_type(asset.id)
            except NotFound:
                return
        async for row in self.client.iter_asset_members(asset_type, asset.id):
            if row.user_id is not None and row.asset_role and row.relation_status == "BOUND":
                yield Permission(row.user_id, asset.id, row.asset_role)

    async def grant(self, remote_id: str, asset_id: str, permission: str) -> None:
        """``bc/asset/assign`` with the asset type's role field; assigning again overwrites."""
        user_id = self._user_id(remote_id, "grant")
        asset_type = await self.asset_type(asset_id)
        role = canonical_permission(asset_type, permission)
        await self.client.assign_asset(user_id, asset_type, asset_id, role)

    async def revoke(self, remote_id: str, asset_id: str) -> None:
        """``bc/asset/unassign``; a pending invitation, an unknown asset or no grant: success."""
        if remote_id.startswith(PENDING_PREFIX):
            return
        try:
            asset_type = await self.asset_type(asset_id)
            await self.client.unassign_asset(self._user_id(remote_id, "revoke"), asset_type, asset_id)
        except NotFound:
            return

    async def asset_type(self, asset_id: str) -> str:
        """The type of ``asset_id`` (``asset_type`` is required by every asset call); ``NotFound``."""
        if asset_id not in self._asset_types:
            async for asset in self.list_assets():
                if asset.id == asset_id:
                    break
        try:
            return self._asset_types[asset_id]
        except KeyError:
            raise NotFound(KIND, "grant", f"no asset {asset_id!r} in this Business Center") from None

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _check_role(role: str, operation: str) -> None:
        if role not in {r.key for r in ROLES}:
            raise InvalidRequest(KIND, operation, f"unknown role {role!r}")

    @staticmethod
    def _user_id(remote_id: str, operation: str) -> str:
        if remote_id.startswith(PENDING_PREFIX):
            raise InvalidRequest(KIND, operation, "a pending invitation has no user_id yet")
        if not remote_id.isdigit():
            raise InvalidRequest(KIND, operation, f"malformed user_id {remote_id!r}")
        return remote_id
