"""Meta Business Manager through the Graph API, typed (vendor-apis.md section 2).

Base ``https://graph.facebook.com/v25.0/``: the version is the last segment of the base URL when it
has one (``.../v26.0`` selects v26.0), else ``API_VERSION``; Meta retires versions on a ~2-year
schedule, so it stays configurable. The token travels in an ``Authorization: Bearer`` header, which
Graph accepts beside the ``access_token`` parameter the official SDK sends: a URL is logged (httpx
writes every request's URL) and a header is not. Listings use Graph cursor
paging: ``limit`` + ``after``, ``{"data": [...], "paging": {"cursors": {...}, "next": ...}}``; the
*only* end signal is the absence of ``paging.next`` (``cursors.after`` is present on the last page
too). Objects carry only their default fields unless ``fields=`` is given, so every read names its
fields. Errors: ``connectors.meta_business.errors.classify``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from connectors.base import Secret
from connectors.errors import InvalidRequest
from connectors.http import HTTPSettings, VendorHTTP
from connectors.meta_business.errors import classify

__all__ = [
    "API_VERSION",
    "BASE_URL",
    "KIND",
    "MetaAdAccount",
    "MetaAssignedUser",
    "MetaBusiness",
    "MetaBusinessUser",
    "MetaClient",
    "MetaPage",
    "MetaRoleRequest",
    "make_http",
    "parse_ad_account",
    "parse_assigned_user",
    "parse_business",
    "parse_business_user",
    "parse_page",
    "parse_role_request",
    "split_version",
]

KIND = "meta_business"
API_VERSION = "v25.0"
BASE_URL = f"https://graph.facebook.com/{API_VERSION}"
DEFAULT_LIMIT = 100
USER_FIELDS = "id,name,email,role,tasks"
REQUEST_FIELDS = "id,email,role,tasks,status,expiration_time"
AD_ACCOUNT_FIELDS = "id,account_id,name,account_status"
PAGE_FIELDS = "id,name"
ASSIGNED_FIELDS = "id,name,user_type,tasks"
_VERSION = re.compile(r"^v\d+\.\d+$")


@dataclass(frozen=True, slots=True)
class MetaBusiness:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class MetaBusinessUser:
    """``BusinessUser``: ``role`` is a base role (``ADMIN`` / ``EMPLOYEE``)."""

    id: str
    name: str | None
    email: str | None
    role: str
    tasks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MetaRoleRequest:
    """``BusinessRoleRequest``: an invitation, ``status`` ``PENDING`` until accepted."""

    id: str
    email: str
    role: str
    status: str
    tasks: tuple[str, ...] = ()
    expiration_time: str | None = None


@dataclass(frozen=True, slots=True)
class MetaAdAccount:
    """``AdAccount``: ``id`` is ``act_<account_id>``."""

    id: str
    account_id: str
    name: str
    account_status: int | None = None


@dataclass(frozen=True, slots=True)
class MetaPage:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class MetaAssignedUser:
    """One row of ``/{asset}/assigned_users``: a business-scoped user id and its tasks on the asset."""

    id: str
    name: str | None
    user_type: str | None
    tasks: tuple[str, ...]


def parse_business(data: Mapping[str, Any]) -> MetaBusiness:
    return MetaBusiness(str(data["id"]), str(data.get("name") or ""))


def parse_business_user(data: Mapping[str, Any]) -> MetaBusinessUser:
    return MetaBusinessUser(str(data["id"]), data.get("name"), data.get("email"), str(data.get("role") or ""),
                            tuple(data.get("tasks") or ()))


def parse_role_request(data: Mapping[str, Any]) -> MetaRoleRequest:
    return MetaRoleRequest(str(data["id"]), str(data.get("email") or ""), str(data.get("role") or ""),
                           str(data.get("status") or "PENDING"), tuple(data.get("tasks") or ()),
                           data.get("expiration_time"))


def parse_ad_account(data: Mapping[str, Any]) -> MetaAdAccount:
    account_id = str(data.get("account_id") or str(data["id"]).removeprefix("act_"))
    return MetaAdAccount(str(data["id"]), account_id, str(data.get("name") or ""), data.get("account_status"))


def parse_page(data: Mapping[str, Any]) -> MetaPage:
    return MetaPage(str(data["id"]), str(data.get("name") or ""))


def parse_assigned_user(data: Mapping[str, Any]) -> MetaAssignedUser:
    return MetaAssignedUser(str(data["id"]), data.get("name"), data.get("user_type"), tuple(data.get("tasks") or ()))


def split_version(base_url: str) -> tuple[str, str]:
    """``(root, version)`` of a Graph base URL: ``https://graph.facebook.com/v26.0`` ->
    (``https://graph.facebook.com``, ``v26.0``); no version segment -> ``API_VERSION``."""
    root = base_url.rstrip("/")
    head, _, last = root.rpartition("/")
    if _VERSION.match(last):
        return head, last
    return root, API_VERSION


def make_http(root_url: str, token: Secret, settings: HTTPSettings) -> VendorHTTP:
    """The ``VendorHTTP`` for one business: the token as a bearer header, Graph error classifier."""
    return VendorHTTP(KIND, root_url, auth_headers={"Authorization": Secret(f"Bearer {token.reveal()}")},
                      settings=settings, headers={"User-Agent": "scim-bridge"}, classifier=classify)


def _seg(value: str) -> str:
    return quote(value, safe="")


class MetaClient:
    """Graph calls on one business. Every method raises ``connectors.errors`` types only.

    :param http: from ``make_http`` (its base is the Graph root, without the version).
    :param business_id: the Business Manager id.
    :param version: Graph API version segment, e.g. ``v25.0``.
    """

    def __init__(self, http: VendorHTTP, business_id: str, version: str = API_VERSION) -> None:
        self.http = http
        self.business_id = business_id
        self.version = version
        self.limit = http.settings.page_size or DEFAULT_LIMIT
        self._origin = urlsplit(http.base_url)[:2]

    async def aclose(self) -> None:
        await self.http.aclose()

    def _path(self, *parts: str) -> str:
        return "/".join((self.version, *map(_seg, parts)))

    # -- paging ----------------------------------------------------------------------------------

    async def _edge(self, path: str, operation: str, params: Mapping[str, Any]) -> AsyncIterator[Any]:
        """Yield every item of a cursor-paged edge, following ``paging.next`` until it is absent."""
        url, query = path, {**params, "limit": self.limit}
        while True:
            body = await self.http.get_json(url, operation=operation, params=query)
            for item in body.get("data") or ():
                yield item
            next_url = (body.get("paging") or {}).get("next")
            if not next_url:
                return
            url, query = self._split_next(next_url, operation)

    def _split_next(self, next_url: str, operation: str) -> tuple[str, dict[str, str]]:
        """The ``next`` URL as (URL without query, its parameters minus ``access_token``).

        httpx replaces a URL's query when ``params`` are given; an ``access_token`` Graph wrote into
        ``next`` is dropped (the header carries the token); a ``next`` on another origin is refused,
        so the token never leaves Graph's host.
        """
        parts = urlsplit(next_url)
        if parts[:2] != self._origin:
            raise InvalidRequest(KIND, operation, "paging.next points to another host")
        query = {k: v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "access_token"}
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), query

    # -- business and people ---------------------------------------------------------------------

    async def get_business(self) -> MetaBusiness:
        """``GET /{business_id}?fields=id,name``."""
        data = await self.http.get_json(self._path(self.business_id), operation="check",
                                        params={"fields": "id,name"})
        return parse_business(data)

    async def iter_business_users(self) -> AsyncIterator[MetaBusinessUser]:
        """``GET /{business_id}/business_users`` (people who accepted)."""
        path = self._path(self.business_id, "business_users")
        async for item in self._edge(path, "list_members", {"fields": USER_FIELDS}):
            yield parse_business_user(item)

    async def iter_pending_users(self, email: str | None = None) -> AsyncIterator[MetaRoleRequest]:
        """``GET /{business_id}/pending_users[?email=]`` (invitations not yet accepted)."""
        params = {"fields": REQUEST_FIELDS} | ({"email": email} if email else {})
        async for item in self._edge(self._path(self.business_id, "pending_users"), "list_members", params):
            yield parse_role_request(item)

    async def get_business_user(self, user_id: str) -> MetaBusinessUser:
        data = await self.http.get_json(self._path(user_id), operation="get_member", params={"fields": USER_FIELDS})
        return parse_business_user(data)

    async def get_role_request(self, request_id: str) -> MetaRoleRequest:
        data = await self.http.get_json(self._path(request_id), operation="get_member",
                                        params={"fields": REQUEST_FIELDS})
        return parse_role_request(data)

    async def create_invitation(self, email: str, role: str, *, retry: bool = True) -> str:
        """``POST /{business_id}/business_users`` ``email``, ``role`` -> the new request's ``id``.

        ``retry=False`` makes one attempt: a retried POST could invite twice.
        """
        response = await self.http.request("POST", self._path(self.business_id, "business_users"),
                                           operation="invite", data={"email": email, "role": role},
                                           retry=retry)
        return str(response.json()["id"])

    async def delete_node(self, node_id: str, operation: str = "remove") -> None:
        """``DELETE /{id}`` (a business user or a role request); ``NotFound`` when gone."""
        await self.http.request("DELETE", self._path(node_id), operation=operation)

    async def set_role(self, node_id: str, role: str) -> None:
        """``POST /{id}`` ``role`` (a business user or a pending role request)."""
        await self.http.request("POST", self._path(node_id), operation="change_role", data={"role": role})

    # -- assets ----------------------------------------------------------------------------------

    async def iter_ad_accounts(self, edge: str = "owned_ad_accounts") -> AsyncIterator[MetaAdAccount]:
        """``GET /{business_id}/owned_ad_accounts`` (or ``client_ad_accounts``)."""
        path = self._path(self.business_id, edge)
        async for item in self._edge(path, "list_assets", {"fields": AD_ACCOUNT_FIELDS}):
            yield parse_ad_account(item)

    async def iter_pages(self, edge: str = "owned_pages") -> AsyncIterator[MetaPage]:
        """``GET /{business_id}/owned_pages`` (or ``client_pages``)."""
        async for item in self._edge(self._path(self.business_id, edge), "list_assets", {"fields": PAGE_FIELDS}):
            yield parse_page(item)

    async def iter_assigned_users(self, asset_id: str) -> AsyncIterator[MetaAssignedUser]:
        """``GET /{asset_id}/assigned_users?business=`` (``business`` is required by Graph)."""
        params = {"business": self.business_id, "fields": ASSIGNED_FIELDS}
        async for item in self._edge(self._path(asset_id, "assigned_users"), "list_permissions", params):
            yield parse_assigned_user(item)

    async def assign(self, asset_id: str, user_id: str, tasks: Sequence[str]) -> None:
        """``POST /{asset_id}/assigned_users`` ``user``, ``tasks`` (a JSON list): sets the task set."""
        data = {"user": user_id, "tasks": json.dumps(list(tasks))}
        await self.http.request("POST", self._path(asset_id, "assigned_users"), operation="grant", data=data)

    async def unassign(self, asset_id: str, user_id: str) -> None:
        """``DELETE /{asset_id}/assigned_users?user=``."""
        await self.http.request("DELETE", self._path(asset_id, "assigned_users"), operation="revoke",
                                params={"user": user_id})
