"""TikTok Business Center (Marketing API v1.3), typed (vendor-apis.md section 1).

Wire rules this module keeps:

- Auth is the header ``Access-Token: <token>``: the raw token, no ``Bearer`` prefix (a prefix is
  answered with code 40105).
- Every answer is ``{"code", "message", "request_id", "data"}``, normally with HTTP 200 even for
  errors; ``classify`` turns a non-zero ``code`` into a ``ConnectorError`` (40100 -> ``RateLimited``
  with no wait hint, so ``VendorHTTP`` backs off exponentially; 40102/40104/40105/40130 ->
  ``AuthError``; 40007 -> ``NotFound``; 5xxxx -> ``VendorUnavailable``; 40012 "no update" and 40050
  "duplicated request" are successes).
- Lists page with ``page``/``page_size`` and ``data.page_info{page, page_size, total_number,
  total_page}``; the maximum ``page_size`` is per endpoint (``MAX_PAGE_SIZE``).
- ``filtering`` is a JSON object serialised into one query parameter.
- Ids (``bc_id``, ``user_id``, ``asset_id``) are int64 values carried as numeric strings.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.base import Secret
from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    VendorUnavailable,
)
from connectors.http import HTTPSettings, VendorHTTP

__all__ = [
    "API_PREFIX",
    "BASE_URL",
    "KIND",
    "MAX_PAGE_SIZE",
    "ROLE_FIELDS",
    "PageInfo",
    "TikTokAsset",
    "TikTokBusiness",
    "TikTokClient",
    "TikTokMember",
    "TokenGrant",
    "classify",
    "exchange_auth_code",
    "make_http",
    "parse_asset",
    "parse_business",
    "parse_member",
    "parse_page_info",
    "parse_token_grant",
]

KIND = "tiktok_business"
BASE_URL = "https://business-api.tiktok.com"
API_PREFIX = "open_api/v1.3/"
MAX_PAGE_SIZE: Mapping[str, int] = {
    "bc/get/": 50, "bc/member/get/": 20, "bc/asset/get/": 50, "bc/asset/member/get/": 20,
}
"""Per-endpoint ``page_size`` maxima (``bc/member/get`` is unstated by TikTok; 20 per a community SDK)."""

ROLE_FIELDS: Mapping[str, str] = {
    "ADVERTISER": "advertiser_role", "CATALOG": "catalog_role", "TIKTOK_SHOP": "store_role",
    "LEAD": "form_library_role", "TT_ACCOUNT": "tt_account_roles",
}
"""The per-asset-type role field of ``bc/asset/assign`` (``tt_account_roles`` is a list)."""

_SUCCESS = frozenset({0, 40012, 40050})
_RATE_LIMITED = frozenset({40100, 40132, 61000})
_AUTH = frozenset({40102, 40104, 40105, 40130})
_PERMISSION = frozenset({40001, 40003})


@dataclass(frozen=True, slots=True)
class PageInfo:
    page: int
    page_size: int
    total_number: int
    total_page: int


@dataclass(frozen=True, slots=True)
class TikTokMember:
    """A ``bc/member/get`` row (or a ``bc/asset/member/get`` row with ``asset_role`` set).

    ``user_id`` may be absent on ``PENDING`` rows (an invitation is revoked by ``user_email``).
    ``asset_role`` is the row's per-asset-type role (``tt_account_roles`` joined with ``,``).
    """

    user_id: str | None
    user_name: str | None
    user_email: str | None
    user_role: str
    relation_status: str
    finance_role: str | None = None
    asset_role: str | None = None


@dataclass(frozen=True, slots=True)
class TikTokAsset:
    """A ``bc/asset/get`` row; ``role`` is the asset type's role field (a user's, when filtered)."""

    asset_id: str
    asset_name: str
    asset_type: str
    role: str | None = None


@dataclass(frozen=True, slots=True)
class TikTokBusiness:
    """A ``bc/get`` row: the BC and the token owner's role in it."""

    bc_id: str
    name: str
    user_role: str | None


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """``oauth2/access_token`` data. ``repr`` hides the token."""

    access_token: Secret
    advertiser_ids: tuple[str, ...]
    scope: tuple[str, ...]


def parse_page_info(data: Mapping[str, Any]) -> PageInfo:
    return PageInfo(int(data["page"]), int(data["page_size"]), int(data["total_number"]),
                    int(data["total_page"]))


def role_value(asset_type: str, row: Mapping[str, Any]) -> str | None:
    """The asset type's role from ``row``; ``tt_account_roles`` lists become ``"LIVE,POST"``."""
    value = row.get(ROLE_FIELDS.get(asset_type, ""))
    if isinstance(value, list):
        return ",".join(sorted(str(v) for v in value)) or None
    return str(value) if value else None


def parse_member(data: Mapping[str, Any], asset_type: str | None = None) -> TikTokMember:
    ext = data.get("ext_user_role") or {}
    user_id = data.get("user_id")
    return TikTokMember(
        str(user_id) if user_id not in (None, "") else None, data.get("user_name"),
        data.get("user_email"), str(data.get("user_role") or ""), str(data["relation_status"]),
        ext.get("finance_role") if isinstance(ext, dict) else None,
        role_value(asset_type, data) if asset_type else None,
    )


def parse_asset(data: Mapping[str, Any]) -> TikTokAsset:
    asset_type = str(data["asset_type"])
    return TikTokAsset(str(data["asset_id"]), str(data.get("asset_name") or ""), asset_type,
                       role_value(asset_type, data))


def parse_business(data: Mapping[str, Any]) -> TikTokBusiness:
    info = data["bc_info"]
    return TikTokBusiness(str(info["bc_id"]), str(info.get("name") or ""), data.get("user_role"))


def parse_token_grant(data: Mapping[str, Any]) -> TokenGrant:
    return TokenGrant(Secret(str(data["access_token"])),
                      tuple(str(a) for a in data.get("advertiser_ids") or ()),
                      tuple(str(s) for s in data.get("scope") or ()))


def classify(kind: str, operation: str, response: httpx.Response) -> ConnectorError | None:
    """The ``Classifier`` for TikTok's body ``code`` (the HTTP status is usually 200)."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, int) or isinstance(code, bool) or code in _SUCCESS:
        return None
    detail = f"{body.get('message') or 'error'} (code {code}, request_id {body.get('request_id')})"
    status = response.status_code if response.status_code >= 400 else None
    return _error_for(code)(kind, operation, detail, status=status, vendor_code=str(code))


def _error_for(code: int) -> type[ConnectorError]:
    if code in _RATE_LIMITED:
        return RateLimited
    if code in _AUTH:
        return AuthError
    if code in _PERMISSION:
        return PermissionDenied
    if code == 40007:
        return NotFound
    if code >= 50000:
        return VendorUnavailable
    return InvalidRequest  # 40000/40002 invalid params, 20001 partial success, anything unknown


def make_http(base_url: str, token: Secret | None, settings: HTTPSettings) -> VendorHTTP:
    """The ``VendorHTTP`` of one app; ``base_url`` is ``https://business-api.tiktok.com`` or the
    sandbox's ``http://HOST:PORT/tiktok_business`` (``API_PREFIX`` is added here)."""
    auth = {"Access-Token": token} if token else {}
    return VendorHTTP(KIND, base_url.rstrip("/") + "/" + API_PREFIX, auth_headers=auth,
                      headers={"Accept": "application/json"}, settings=settings, classifier=classify)


async def exchange_auth_code(http: VendorHTTP, app_id: str, secret: Secret, auth_code: str) -> TokenGrant:
    """``POST oauth2/access_token/`` ``{app_id, secret, auth_code}`` -> ``data.access_token``.

    Not retried: an auth code is single-use, so a retry after a lost answer could only fail.
    """
    body = {"app_id": app_id, "secret": secret.reveal(), "auth_code": auth_code}
    response = await http.request("POST", "oauth2/access_token/", operation="authorize", json=body,
                                  retry=False)
    return parse_token_grant(response.json()["data"])


def _filtering(values: Mapping[str, Any] | None) -> dict[str, str]:
    return {"filtering": json.dumps(dict(values), separators=(",", ":"))} if values else {}


class TikTokClient:
    """Calls on one Business Center (``bc_id``). Every method raises ``connectors.errors`` types."""

    def __init__(self, http: VendorHTTP, bc_id: str) -> None:
        self.http = http
        self.bc_id = bc_id
        self._page_size = http.settings.page_size

    async def aclose(self) -> None:
        await self.http.aclose()

    def page_size(self, path: str) -> int:
        limit = MAX_PAGE_SIZE[path]
        return min(limit, self._page_size) if self._page_size else limit

    async def _data(self, method: str, path: str, operation: str, *, params: Mapping[str, Any] | None = None,
                    body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.request(method, path, operation=operation, params=params,
                                           json={"bc_id": self.bc_id, **body} if body is not None else None)
        data = response.json().get("data")
        return data if isinstance(data, dict) else {}

    async def _rows(self, path: str, operation: str, params: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Every ``data.list`` row of a page-numbered listing; stops at ``page >= total_page``."""
        page, size = 1, self.page_size(path)
        while True:
            query = {**params, "page": page, "page_size": size}
            data = await self._data("GET", path, operation, params=query)
            for row in data.get("list") or ():
                yield row
            if page >= parse_page_info(data["page_info"]).total_page:
                return
            page += 1

    async def iter_businesses(self) -> AsyncIterator[TikTokBusiness]:
        """``GET bc/get/``: the BCs the token reaches."""
        async for row in self._rows("bc/get/", "check", {}):
            yield parse_business(row)

    async def iter_members(self, filtering: Mapping[str, Any] | None = None,
                           operation: str = "list_members") -> AsyncIterator[TikTokMember]:
        """``GET bc/member/get/`` (bound and pending rows unless ``filtering`` narrows them)."""
        params = {"bc_id": self.bc_id, **_filtering(filtering)}
        async for row in self._rows("bc/member/get/", operation, params):
            yield parse_member(row)

    async def iter_assets(self, asset_type: str, filtering: Mapping[str, Any] | None = None) -> AsyncIterator[TikTokAsset]:
        """``GET bc/asset/get/?asset_type=`` (role fields describe ``filtering.user_id``'s access)."""
        params = {"bc_id": self.bc_id, "asset_type": asset_type, **_filtering(filtering)}
        async for row in self._rows("bc/asset/get/", "list_assets", params):
            yield parse_asset(row)

    async def iter_asset_members(self, asset_type: str, asset_id: str) -> AsyncIterator[TikTokMember]:
        """``GET bc/asset/member/get/``: members of one asset with their role on it."""
        params = {"bc_id": self.bc_id, "asset_type": asset_type, "asset_id": asset_id}
        async for row in self._rows("bc/asset/member/get/", "list_permissions", params):
            yield parse_member(row, asset_type)

    async def invite(self, emails: Sequence[str], user_role: str) -> None:
        """``POST bc/member/invite/``; TikTok ignores emails already invited."""
        await self._data("POST", "bc/member/invite/", "invite",
                         body={"emails": list(emails), "user_role": user_role})

    async def delete_member(self, *, user_id: str | None = None, user_email: str | None = None) -> None:
        """``POST bc/member/delete/`` by ``user_id`` (member) or ``user_email`` (pending); 40007 ->
        ``NotFound``."""
        body = {"user_id": user_id} if user_id is not None else {"user_email": user_email}
        await self._data("POST", "bc/member/delete/", "remove", body=body)

    async def update_member(self, user_id: str, user_role: str) -> None:
        """``POST bc/member/update/`` ``{user_id, user_role}`` (40012 "no update" is success)."""
        await self._data("POST", "bc/member/update/", "change_role",
                         body={"user_id": user_id, "user_role": user_role})

    async def assign_asset(self, user_id: str, asset_type: str, asset_id: str, role: str) -> None:
        """``POST bc/asset/assign/`` with the type's role field (``tt_account_roles`` from ``"A,B"``)."""
        field = ROLE_FIELDS[asset_type]
        value: Any = role.split(",") if field == "tt_account_roles" else role
        await self._data("POST", "bc/asset/assign/", "grant", body={
            "user_id": user_id, "asset_type": asset_type, "asset_id": asset_id, field: value})

    async def unassign_asset(self, user_id: str, asset_type: str, asset_id: str) -> None:
        """``POST bc/asset/unassign/``; not assigned -> 40007 -> ``NotFound``."""
        await self._data("POST", "bc/asset/unassign/", "revoke", body={
            "user_id": user_id, "asset_type": asset_type, "asset_id": asset_id})
