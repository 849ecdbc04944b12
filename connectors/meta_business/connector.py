"""Meta Business Manager connector: business users, invitations, base roles, ad accounts and Pages.

Remote ids: a person who joined is its ``BusinessUser`` id; a pending invitation is
``"req:<BusinessRoleRequest id>"`` (``remove`` deletes the request, ``change_role`` re-roles it).
Accepting an invitation creates a new ``BusinessUser`` node, so the remote id changes then, as it
does at Meta. Roles are the base business roles ``ADMIN`` (owner level) and ``EMPLOYEE``; Graph's
``business_users.role`` reports only these (vendor-apis.md section 2). Assets are the business's
ad accounts (owned and client) and Pages (owned), with per-user task sets named as in
``connectors.meta_business.tasks``.

Idempotency: invitations are created with a single non-retried POST; after a failure that may have
taken effect (timeout, 5xx, throttle) the pending invitations are searched by email before trying
again, so a retry never sends a second invitation even if Graph would accept a duplicate. A POST
refused because the person is already invited or a member returns that person. Deleting a node that
is gone (Graph code 100 subcode 33) is success.
"""

from __future__ import annotations

import asyncio
import random
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
    Permission,
    ReadsMember,
    RemovesMembers,
    Role,
    same_email,
)
from connectors.errors import InvalidRequest, NotFound, RetryableError
from connectors.meta_business.client import KIND, MetaBusinessUser, MetaClient, MetaRoleRequest
from connectors.meta_business.tasks import AD_ACCOUNT, PAGE, permission_for, tasks_for

__all__ = ["REQUEST_PREFIX", "ROLES", "MetaBusinessConnector"]

REQUEST_PREFIX = "req:"
ROLES: tuple[Role, ...] = (
    Role("ADMIN", "Admin", owner_level=True),
    Role("EMPLOYEE", "Employee"),
)
_ROLE_KEYS = frozenset(r.key for r in ROLES)


def _from_user(user: MetaBusinessUser) -> Member:
    return Member(user.id, user.email, None, user.name, user.role, "active")


def _from_request(request: MetaRoleRequest) -> Member:
    return Member(f"{REQUEST_PREFIX}{request.id}", request.email, None, None, request.role, "pending")



class MetaBusinessConnector(ListsMembers, ListsRoles, ListsAssets, InvitesMembers, RemovesMembers,
                            ChangesRoles, GrantsAssets, ReadsMember):
    """Acts on one Business Manager through ``MetaClient``."""

    kind: ClassVar[str] = KIND

    def __init__(self, client: MetaClient) -> None:
        self.client = client
        self._rng = random.Random()

    async def check(self) -> None:
        """``GET /{business_id}``: ``AuthError`` (code 190) or ``NotFound`` / ``PermissionDenied``."""
        await self.client.get_business()

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- members ---------------------------------------------------------------------------------

    async def list_members(self) -> AsyncIterator[Member]:
        """``business_users`` (active), then ``pending_users`` whose status is ``PENDING``."""
        async for user in self.client.iter_business_users():
            yield _from_user(user)
        async for request in self.client.iter_pending_users():
            if request.status == "PENDING":
                yield _from_request(request)

    async def list_roles(self) -> Sequence[Role]:
        return ROLES

    async def invite(self, email: str, role: str) -> Member:
        """Invite ``email`` as ``role``; already invited or a member: that member, no second invitation."""
        self._check_role(role, "invite")
        settings = self.client.http.settings
        for attempt in range(settings.max_attempts):
            existing = await self._pending(email) if attempt else None
            if existing is not None:
                return existing
            try:
                request_id = await self.client.create_invitation(email, role, retry=False)
            except InvalidRequest:
                found = await self.find_by_email(email)
                if found is None:
                    raise
                return found
            except RetryableError as error:
                if attempt + 1 >= settings.max_attempts:
                    raise
                await asyncio.sleep(settings.wait_for(error, attempt, self._rng))
                continue
            return Member(f"{REQUEST_PREFIX}{request_id}", email, None, None, role, "pending")
        raise AssertionError("unreachable")  # pragma: no cover

    async def _pending(self, email: str) -> Member | None:
        async for request in self.client.iter_pending_users(email=email):
            if request.status == "PENDING" and same_email(request.email, email):
                return _from_request(request)
        return None

    async def find_by_email(self, email: str) -> Member | None:
        """The pending invitation (filtered by Graph) or business user (a scan) with ``email``."""
        pending = await self._pending(email)
        if pending is not None:
            return pending
        async for user in self.client.iter_business_users():
            if same_email(user.email, email):
                return _from_user(user)
        return None

    async def remove(self, remote_id: str) -> None:
        """``DELETE /{id}``: removes the person (and with it every asset assignment) or cancels the
        invitation. Already gone: success."""
        try:
            await self.client.delete_node(self._node(remote_id, "remove"))
        except NotFound:
            return

    async def read_member(self, remote_id: str) -> Member | None:
        """``GET /{id}`` of the business user or the pending request; ``None`` once it is gone (Graph
        answers a deleted node with error 100, ``NotFound``)."""
        node = self._node(remote_id, "read_member")
        try:
            if remote_id.startswith(REQUEST_PREFIX):
                return _from_request(await self.client.get_role_request(node))
            return _from_user(await self.client.get_business_user(node))
        except NotFound:
            return None

    async def change_role(self, remote_id: str, role: str) -> Member:
        """``POST /{id}`` ``role`` on the business user or pending request, then read it back."""
        self._check_role(role, "change_role")
        node = self._node(remote_id, "change_role")
        await self.client.set_role(node, role)
        if remote_id.startswith(REQUEST_PREFIX):
            return _from_request(await self.client.get_role_request(node))
        return _from_user(await self.client.get_business_user(node))

    # -- assets ----------------------------------------------------------------------------------

    async def list_assets(self) -> AsyncIterator[Asset]:
        """Owned and client ad accounts (``act_<n>``), then owned Pages; each id once."""
        seen: set[str] = set()
        for edge in ("owned_ad_accounts", "client_ad_accounts"):
            async for account in self.client.iter_ad_accounts(edge):
                if account.id not in seen:
                    seen.add(account.id)
                    yield Asset(account.id, account.name, AD_ACCOUNT)
        async for page in self.client.iter_pages():
            yield Asset(page.id, page.name, PAGE)

    async def list_permissions(self, asset: Asset) -> AsyncIterator[Permission]:
        """People's task sets on ``asset`` (system users are not members, so they are left out)."""
        async for user in self.client.iter_assigned_users(asset.id):
            if user.user_type != "SYSTEM_USER":
                yield Permission(user.id, asset.id, permission_for(asset.type, user.tasks))

    async def grant(self, remote_id: str, asset_id: str, permission: str) -> None:
        """``POST /{asset}/assigned_users``: sets the person's task set (one grant however often)."""
        tasks = tasks_for(asset_id, permission)
        if remote_id.startswith(REQUEST_PREFIX):
            raise InvalidRequest(KIND, "grant", "a pending invitation cannot be assigned an asset")
        await self.client.assign(asset_id, remote_id, tasks)

    async def revoke(self, remote_id: str, asset_id: str) -> None:
        """``DELETE /{asset}/assigned_users?user=``; not assigned (Graph answers code 100): success."""
        if remote_id.startswith(REQUEST_PREFIX):
            return
        try:
            await self.client.unassign(asset_id, remote_id)
        except NotFound:
            return
        except InvalidRequest:
            if await self._assigned(asset_id, remote_id):
                raise

    async def _assigned(self, asset_id: str, user_id: str) -> bool:
        async for user in self.client.iter_assigned_users(asset_id):
            if user.id == user_id:
                return True
        return False

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _check_role(role: str, operation: str) -> None:
        if role not in _ROLE_KEYS:
            raise InvalidRequest(KIND, operation, f"unknown role {role!r} (ADMIN or EMPLOYEE)")

    @staticmethod
    def _node(remote_id: str, operation: str) -> str:
        node = remote_id.removeprefix(REQUEST_PREFIX)
        if not node or not node.replace("_", "").isalnum():
            raise InvalidRequest(KIND, operation, f"malformed remote id {remote_id!r}")
        return node
