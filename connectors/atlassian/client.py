"""Atlassian Cloud organization admin API, typed (vendor-apis.md section 7).

Auth ``Authorization: Bearer <organization API key>`` (admin.atlassian.com -> Settings -> API keys).
Paths are relative to ``https://api.atlassian.com``; the catalog's base is the documented
``https://api.atlassian.com/admin/v1/orgs`` and ``admin_root`` strips that suffix (a sandbox base
``http://HOST:PORT/atlassian`` is already a root). Endpoints, with their sources:

- ``GET /admin/v1/orgs/{orgId}`` and ``GET /admin/v1/orgs/{orgId}/users?cursor=`` (verified:
  developer.atlassian.com api-group-orgs): ``{data[], links{self, prev, next}, meta{total}}``, where
  ``links.next`` is the URL of the next page; its ``cursor`` query value is sent back (as
  go-atlassian's example does). A bare cursor in ``links.next`` is accepted too.
- ``GET /admin/v2/orgs/{orgId}/directories/-/users?roleIds=`` and ``.../users/{accountId}`` (jira.js
  ``getDirectoryUsers`` / ``getDirectoryUserDetails``; ``-`` = every directory): ``platformRoles``,
  ``emailVerified``. The listing is deprecated after 2027-06-30 for ``POST .../users/search``.
- ``POST /admin/v2/orgs/{orgId}/users/invite`` ``{emails[], sendNotification}`` -> ``{data[{id, email,
  results[]}]}`` (jira.js ``inviteUsers``; the endpoint vendor-apis.md marks unverified).
- ``POST /admin/v1/orgs/{orgId}/users/{accountId}/role-assignments/assign|revoke`` ``{role}`` (jira.js
  ``assignOrganizationRole`` / ``revokeOrganizationRole``; eventually consistent at Atlassian).
- ``DELETE /admin/v1/orgs/{orgId}/directory/users/{accountId}`` and ``POST .../suspend-access`` /
  ``.../restore-access`` (go-atlassian ``OrganizationDirectoryService``; ``{"message"}`` answers).

Errors are ``{"errors": [{"id", "status", "code", "title", "detail"}]}`` (codes ``ADMIN-UAM-...``),
mapped by ``connectors.http``: 401 -> ``AuthError``; 403 -> ``PermissionDenied``; 404 ->
``NotFound``; 400/409 -> ``InvalidRequest`` (``vendor_code`` = ``errors[0].code``); 429 +
``Retry-After`` -> ``RateLimited``; 5xx -> ``VendorUnavailable``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from connectors.base import Secret
from connectors.http import HTTPSettings, VendorHTTP

__all__ = [
    "BASE_URL",
    "KIND",
    "ORG_ADMIN_ROLE",
    "AtlassianClient",
    "AtlassianDirectoryUser",
    "AtlassianInvite",
    "AtlassianOrg",
    "AtlassianUser",
    "admin_root",
    "cursor_of",
    "make_http",
    "parse_directory_user",
    "parse_invite",
    "parse_org",
    "parse_user",
]

KIND = "atlassian"
ORGS_PATH = "/admin/v1/orgs"
BASE_URL = "https://api.atlassian.com" + ORGS_PATH
ORG_ADMIN_ROLE = "atlassian/org-admin"
ALL_DIRECTORIES = "-"
V2_LIMIT = 100


@dataclass(frozen=True, slots=True)
class AtlassianOrg:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class AtlassianUser:
    """A v1 org user. ``last_active`` is absent until the person first uses a product;
    ``access_billable`` is false while their access is suspended."""

    account_id: str
    account_type: str
    account_status: str
    name: str
    email: str | None = None
    last_active: str | None = None
    access_billable: bool | None = None
    products: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AtlassianDirectoryUser:
    """A v2 directory user (``platformRoles`` are org-level roles such as ``atlassian/org-admin``)."""

    account_id: str
    account_status: str
    name: str | None
    email: str | None
    email_verified: bool
    platform_roles: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class AtlassianInvite:
    """One entry of the invite answer: the invitee's account id (created if it had none)."""

    account_id: str
    email: str


def parse_org(data: Mapping[str, Any]) -> AtlassianOrg:
    return AtlassianOrg(str(data["id"]), str((data.get("attributes") or {}).get("name") or ""))


def parse_user(data: Mapping[str, Any]) -> AtlassianUser:
    products = tuple(str(p.get("key")) for p in data.get("product_access") or ())
    return AtlassianUser(str(data["account_id"]), str(data.get("account_type") or "atlassian"),
                         str(data.get("account_status") or "active"), str(data.get("name") or ""),
                         data.get("email"), data.get("last_active"), data.get("access_billable"), products)


def parse_directory_user(data: Mapping[str, Any]) -> AtlassianDirectoryUser:
    return AtlassianDirectoryUser(str(data["accountId"]), str(data.get("accountStatus") or "active"),
                                  data.get("name"), data.get("email"), bool(data.get("emailVerified")),
                                  tuple(data.get("platformRoles") or ()))


def parse_invite(data: Mapping[str, Any]) -> AtlassianInvite:
    return AtlassianInvite(str(data["id"]), str(data.get("email") or ""))


def cursor_of(next_link: str | None) -> str | None:
    """The cursor of a ``links.next`` value: the ``cursor`` query parameter of a URL, or the value."""
    if not next_link:
        return None
    if "?" in next_link or next_link.startswith(("http://", "https://", "/")):
        values = parse_qs(urlsplit(next_link).query).get("cursor")
        return values[0] if values else None
    return next_link


def admin_root(base_url: str) -> str:
    """The API root: ``https://api.atlassian.com/admin/v1/orgs`` -> ``https://api.atlassian.com``."""
    base = base_url.rstrip("/")
    return base.removesuffix(ORGS_PATH)


def make_http(base_url: str, token: Secret, settings: HTTPSettings) -> VendorHTTP:
    """The ``VendorHTTP`` for one Atlassian organization (paths relative to the API root)."""
    return VendorHTTP(
        KIND, admin_root(base_url),
        auth_headers={"Authorization": Secret(f"Bearer {token.reveal()}")},
        headers={"Accept": "application/json", "User-Agent": "scim-bridge"},
        settings=settings,
    )


def _seg(value: str) -> str:
    return quote(value, safe="")


class AtlassianClient:
    """Calls on one organization. Every method raises ``connectors.errors`` types only."""

    def __init__(self, http: VendorHTTP, org_id: str) -> None:
        self.http = http
        self.org_id = org_id
        self.limit = max(1, min(V2_LIMIT, http.settings.page_size or V2_LIMIT))
        self._v1 = f"admin/v1/orgs/{_seg(org_id)}"
        self._v2 = f"admin/v2/orgs/{_seg(org_id)}"
        self._v2_users = f"{self._v2}/directories/{ALL_DIRECTORIES}/users"

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _pages(self, path: str, operation: str, params: Mapping[str, Any]) -> AsyncIterator[Any]:
        """Every ``data`` item, following ``links.next`` (as a ``cursor``) until it is absent."""
        query = dict(params)
        while True:
            body = await self.http.get_json(path, operation=operation, params=query)
            for item in body.get("data") or ():
                yield item
            cursor = cursor_of((body.get("links") or {}).get("next"))
            if cursor is None:
                return
            query["cursor"] = cursor

    async def get_org(self) -> AtlassianOrg:
        """``GET /admin/v1/orgs/{orgId}``."""
        return parse_org((await self.http.get_json(self._v1, operation="check"))["data"])

    async def iter_users(self) -> AsyncIterator[AtlassianUser]:
        """``GET /admin/v1/orgs/{orgId}/users`` (every account the org manages, any status)."""
        async for item in self._pages(f"{self._v1}/users", "list_members", {}):
            yield parse_user(item)

    async def iter_role_holders(self, role: str) -> AsyncIterator[AtlassianDirectoryUser]:
        """``GET /admin/v2/orgs/{orgId}/directories/-/users?roleIds=<role>``."""
        params = {"roleIds": role, "limit": self.limit}
        async for item in self._pages(self._v2_users, "list_roles", params):
            yield parse_directory_user(item)

    async def get_directory_user(self, account_id: str) -> AtlassianDirectoryUser:
        """``GET /admin/v2/orgs/{orgId}/directories/-/users/{accountId}``; ``NotFound`` if absent."""
        body = await self.http.get_json(f"{self._v2_users}/{_seg(account_id)}", operation="get_member")
        return parse_directory_user(body["data"])

    async def invite(self, email: str) -> AtlassianInvite:
        """``POST /admin/v2/orgs/{orgId}/users/invite``: answers with the account id whether the
        email was new, already invited or already a member (no second invitation)."""
        body = {"emails": [email], "sendNotification": True}
        response = await self.http.request("POST", f"{self._v2}/users/invite", operation="invite", json=body)
        [invite] = [parse_invite(item) for item in response.json().get("data") or ()]
        return invite

    async def _role(self, account_id: str, action: str, role: str) -> None:
        path = f"{self._v1}/users/{_seg(account_id)}/role-assignments/{action}"
        await self.http.request("POST", path, operation="change_role", json={"role": role})

    async def assign_role(self, account_id: str, role: str) -> None:
        """``POST .../users/{accountId}/role-assignments/assign`` ``{role}``; held already: no change."""
        await self._role(account_id, "assign", role)

    async def revoke_role(self, account_id: str, role: str) -> None:
        """``POST .../users/{accountId}/role-assignments/revoke`` ``{role}``; not held: no change."""
        await self._role(account_id, "revoke", role)

    async def remove_from_directory(self, account_id: str) -> None:
        """``DELETE /admin/v1/orgs/{orgId}/directory/users/{accountId}`` -> 204; ``NotFound`` if gone."""
        await self.http.request("DELETE", f"{self._v1}/directory/users/{_seg(account_id)}", operation="remove")

    async def suspend_access(self, account_id: str) -> None:
        """``POST /admin/v1/orgs/{orgId}/directory/users/{accountId}/suspend-access``."""
        path = f"{self._v1}/directory/users/{_seg(account_id)}/suspend-access"
        await self.http.request("POST", path, operation="suspend")

    async def restore_access(self, account_id: str) -> None:
        """``POST /admin/v1/orgs/{orgId}/directory/users/{accountId}/restore-access``."""
        path = f"{self._v1}/directory/users/{_seg(account_id)}/restore-access"
        await self.http.request("POST", path, operation="restore")
