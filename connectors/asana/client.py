"""Asana REST API 1.0, typed (vendor-apis.md section 5; Asana's OpenAPI spec ``defs/asana_oas.yaml``).

Auth ``Authorization: Bearer <PAT or OAuth token>``. Every body is the ``{"data": ...}`` envelope, both
ways. Listings page with ``limit`` (1-100) and the opaque ``offset`` token of ``next_page``, which is
``null`` on the last page. ``opt_fields`` asks for fields a compact record leaves out (the member's
``user.email``). Errors are ``{"errors": [{"message", "help", "phrase"?}]}`` and are mapped by
``connectors.http``: 401 ``Not Authorized`` -> ``AuthError``; 403 -> ``PermissionDenied``; 404 ->
``NotFound``; 400/402 -> ``InvalidRequest``; 429 (+ ``Retry-After`` seconds) -> ``RateLimited``;
5xx -> ``VendorUnavailable``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connectors.base import Secret
from connectors.http import HTTPSettings, VendorHTTP

__all__ = [
    "API_PATH",
    "BASE_URL",
    "KIND",
    "MAX_LIMIT",
    "MEMBER_FIELDS",
    "AsanaClient",
    "AsanaMembership",
    "AsanaProject",
    "AsanaUser",
    "AsanaWorkspace",
    "AsanaWorkspaceMembership",
    "api_base",
    "make_http",
    "next_offset",
    "parse_membership",
    "parse_project",
    "parse_user",
    "parse_workspace",
    "parse_workspace_membership",
]

KIND = "asana"
API_PATH = "/api/1.0"
BASE_URL = "https://app.asana.com" + API_PATH
MAX_LIMIT = 100
MEMBER_FIELDS = "user,user.name,user.email,is_active,is_admin,is_guest"
"""``opt_fields`` of a workspace-membership listing: the compact user lacks its email."""
_MEMBERSHIP_FIELDS = "parent,parent.name,member,member.name,access_level"


@dataclass(frozen=True, slots=True)
class AsanaUser:
    """A (compact) user; ``email`` only when asked for through ``opt_fields`` or returned by addUser."""

    gid: str
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class AsanaWorkspace:
    gid: str
    name: str


@dataclass(frozen=True, slots=True)
class AsanaWorkspaceMembership:
    """``workspace_membership``. ``is_active`` is also true for invited users who never accepted."""

    gid: str
    user: AsanaUser
    is_active: bool
    is_admin: bool
    is_guest: bool


@dataclass(frozen=True, slots=True)
class AsanaProject:
    gid: str
    name: str


@dataclass(frozen=True, slots=True)
class AsanaMembership:
    """A project ``membership``: ``member`` holds ``access_level`` on ``parent``."""

    gid: str
    parent_gid: str
    member_gid: str
    access_level: str


def parse_user(data: Mapping[str, Any]) -> AsanaUser:
    return AsanaUser(str(data["gid"]), data.get("name"), data.get("email"))


def parse_workspace(data: Mapping[str, Any]) -> AsanaWorkspace:
    return AsanaWorkspace(str(data["gid"]), data.get("name") or "")


def parse_workspace_membership(data: Mapping[str, Any]) -> AsanaWorkspaceMembership:
    return AsanaWorkspaceMembership(
        str(data["gid"]), parse_user(data["user"]), bool(data.get("is_active")),
        bool(data.get("is_admin")), bool(data.get("is_guest")),
    )


def parse_project(data: Mapping[str, Any]) -> AsanaProject:
    return AsanaProject(str(data["gid"]), data.get("name") or "")


def parse_membership(data: Mapping[str, Any]) -> AsanaMembership:
    return AsanaMembership(str(data["gid"]), str(data["parent"]["gid"]), str(data["member"]["gid"]),
                           str(data["access_level"]))


def next_offset(body: Mapping[str, Any]) -> str | None:
    """The ``offset`` token of ``next_page``, or ``None`` on the last page."""
    page = body.get("next_page")
    return str(page["offset"]) if isinstance(page, Mapping) and page.get("offset") else None


def api_base(base_url: str) -> str:
    """``base_url`` ending in ``/api/1.0``: production's is already; a sandbox's ``.../asana`` gets it."""
    base = base_url.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


def make_http(base_url: str, token: Secret, settings: HTTPSettings) -> VendorHTTP:
    """The ``VendorHTTP`` for one Asana workspace (``base_url`` normalised by ``api_base``)."""
    return VendorHTTP(
        KIND, api_base(base_url),
        auth_headers={"Authorization": Secret(f"Bearer {token.reveal()}")},
        headers={"Accept": "application/json", "User-Agent": "scim-bridge"},
        settings=settings,
    )


def _seg(value: str) -> str:
    return quote(value, safe="")


class AsanaClient:
    """Calls on one workspace. Every method raises ``connectors.errors`` types only."""

    def __init__(self, http: VendorHTTP, workspace_gid: str) -> None:
        self.http = http
        self.workspace_gid = workspace_gid
        self.limit = max(1, min(MAX_LIMIT, http.settings.page_size or MAX_LIMIT))
        self._ws = f"workspaces/{_seg(workspace_gid)}"

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _items(self, path: str, operation: str, params: Mapping[str, Any]) -> AsyncIterator[Any]:
        """Every ``data`` item of a listing, following ``next_page.offset`` until it is ``null``."""
        query: dict[str, Any] = {**params, "limit": self.limit}
        while True:
            body = await self.http.get_json(path, operation=operation, params=query)
            for item in body.get("data") or ():
                yield item
            offset = next_offset(body)
            if offset is None:
                return
            query["offset"] = offset

    async def _post(self, path: str, operation: str, data: Mapping[str, Any]) -> Any:
        response = await self.http.request("POST", path, operation=operation, json={"data": dict(data)})
        return response.json().get("data")

    async def get_workspace(self) -> AsanaWorkspace:
        """``GET /workspaces/{workspace_gid}``."""
        return parse_workspace((await self.http.get_json(self._ws, operation="check"))["data"])

    async def iter_workspace_memberships(self, user: str | None = None) -> AsyncIterator[AsanaWorkspaceMembership]:
        """``GET /workspaces/{gid}/workspace_memberships`` (``user`` = gid or email filters to one)."""
        params: dict[str, Any] = {"opt_fields": MEMBER_FIELDS}
        if user is not None:
            params["user"] = user
        async for item in self._items(f"{self._ws}/workspace_memberships", "list_members", params):
            yield parse_workspace_membership(item)

    async def add_user(self, user: str) -> AsanaUser:
        """``POST /workspaces/{gid}/addUser`` ``{"data": {"user": gid|email}}``: invites an email that
        has no Asana account; adding a present user changes nothing and returns it."""
        return parse_user(await self._post(f"{self._ws}/addUser", "invite", {"user": user}))

    async def remove_user(self, user: str) -> None:
        """``POST /workspaces/{gid}/removeUser`` -> ``{"data": {}}``; ``NotFound`` for an unknown user."""
        await self._post(f"{self._ws}/removeUser", "remove", {"user": user})

    async def iter_projects(self) -> AsyncIterator[AsanaProject]:
        """``GET /workspaces/{gid}/projects``."""
        async for item in self._items(f"{self._ws}/projects", "list_assets", {}):
            yield parse_project(item)

    async def iter_memberships(self, parent: str, member: str | None = None) -> AsyncIterator[AsanaMembership]:
        """``GET /memberships?parent=&member=`` (project memberships with ``access_level``)."""
        params: dict[str, Any] = {"parent": parent, "opt_fields": _MEMBERSHIP_FIELDS}
        if member is not None:
            params["member"] = member
        async for item in self._items("memberships", "list_permissions", params):
            yield parse_membership(item)

    async def create_membership(self, parent: str, member: str, access_level: str) -> AsanaMembership:
        """``POST /memberships`` ``{"data": {parent, member, access_level}}`` -> 201."""
        data = {"parent": parent, "member": member, "access_level": access_level}
        return parse_membership(await self._post("memberships", "grant", data))

    async def update_membership(self, membership_gid: str, access_level: str) -> AsanaMembership:
        """``PUT /memberships/{gid}`` ``{"data": {access_level}}``."""
        response = await self.http.request("PUT", f"memberships/{_seg(membership_gid)}", operation="grant",
                                           json={"data": {"access_level": access_level}})
        return parse_membership(response.json()["data"])

    async def delete_membership(self, membership_gid: str) -> None:
        """``DELETE /memberships/{gid}`` -> ``{"data": {}}``; ``NotFound`` if already gone."""
        await self.http.request("DELETE", f"memberships/{_seg(membership_gid)}", operation="revoke")
