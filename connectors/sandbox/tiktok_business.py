"""Fake of TikTok Business Center, Marketing API v1.3 (vendor-apis.md section 1), under ``/tiktok_business``.

API (``/open_api/v1.3/...``, trailing slashes as TikTok): ``bc/get/``, ``bc/member/get|invite|delete|
update/``, ``bc/asset/get/``, ``bc/asset/member/get/``, ``bc/asset/assign|unassign/``,
``oauth2/access_token/``. Fidelity: header ``Access-Token`` with the raw token (missing -> 40104,
``Bearer ...`` or unknown -> 40105, expired -> 40102); every answer is ``{code, message, request_id,
data}`` with HTTP 200; ``page``/``page_size`` paging with ``page_info`` and per-endpoint maxima
(40002 beyond); ``filtering`` as a JSON string; numeric-string ids; invitations are PENDING rows
without ``user_id`` until accepted, a re-invite is ignored; delete by ``user_id`` or, for an
invitation, ``user_email``; unknown targets -> 40007; an unchanged update -> 40012; the asset role
field must match the asset type (40002). Faults: 40100 (rate limit, no ``Retry-After``), 50000/50002.

Portal (App Authorization, real HTML): ``GET /portal/auth?app_id=&state=&redirect_uri=`` (login form)
-> ``POST /portal/login`` -> ``GET /portal/consent`` (a modal "Confirm authorization" dialog) ->
``POST /portal/consent`` -> 302 to ``redirect_uri?auth_code=&state=``; ``GET /portal/callback`` is a
landing page usable as ``redirect_uri``. Who can log in: any active ``ADMIN`` member of a seeded BC
(username = email) with password ``PORTAL_PASSWORD``; the app is ``APP_ID``/``APP_SECRET``. The
exchanged token is valid for every BC where that user is an active ADMIN.

Store mapping: remote id of a bound member = its ``user_id`` (``USER_ID_BASE + uid``); of an invitation
``"pending:<email>"``; roles ``ADMIN``/``STANDARD``; a grant's permission is the type's role value
(``TT_ACCOUNT``: sorted ``tt_account_roles`` joined with ``,``).
"""

from __future__ import annotations

import itertools
import json
import math
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.sandbox.fake import KindFake
from connectors.sandbox.store import OrgState, StoredAsset, StoredMember
from connectors.sandbox.tiktok_business_portal import (
    APP_ID,
    APP_NAME,
    APP_SECRET,
    PORTAL_PASSWORD,
    SCOPES,
    TikTokPortal,
)

__all__ = ["APP_ID", "APP_NAME", "APP_SECRET", "FAKE", "PORTAL_PASSWORD", "TikTokBusinessFake"]

USER_ID_BASE = 6_800_000_000_000_000_000
API = "/open_api/v1.3"
MAX_PAGE_SIZE = {"bc/get/": 50, "bc/member/get/": 20, "bc/asset/get/": 50, "bc/asset/member/get/": 20}
ROLE_FIELDS = {"ADVERTISER": "advertiser_role", "CATALOG": "catalog_role", "TIKTOK_SHOP": "store_role",
               "LEAD": "form_library_role", "TT_ACCOUNT": "tt_account_roles"}
ROLE_VALUES = {"ADVERTISER": {"ADMIN", "OPERATOR", "ANALYST"}, "CATALOG": {"ADMIN", "AD_PROMOTE"},
               "TIKTOK_SHOP": {"MANAGER", "AD_PROMOTION"}, "LEAD": {"ADMIN"},
               "TT_ACCOUNT": {"POST", "LIVE", "DIRECT_MESSAGE"}}
ASSET_TYPES = ("ADVERTISER", "CATALOG", "PIXEL", "LEAD", "TIKTOK_SHOP", "TT_ACCOUNT", "STOREFRONT", "DOMAIN")
USER_ROLES = ("ADMIN", "STANDARD")
RELATION = {"active": "BOUND", "pending": "PENDING"}


class Envelope(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class BusinessError(Exception):
    """A TikTok business error: answered as ``{code, message}`` with HTTP 200."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _page_of(query: Mapping[str, str], path: str, items: Sequence[Any]) -> tuple[Sequence[Any], dict[str, int]]:
    """Slice ``items`` by ``page``/``page_size`` (40002 beyond the endpoint's maximum)."""
    limit = MAX_PAGE_SIZE[path]
    try:
        page, size = int(query.get("page") or 1), int(query.get("page_size") or 10)
    except ValueError:
        raise BusinessError(40002, "page/page_size: Not a valid integer.") from None
    if page < 1 or not 1 <= size <= limit:
        raise BusinessError(40002, f"page_size: Must be between 1 and {limit}; page: at least 1.")
    info = {"page": page, "page_size": size, "total_number": len(items),
            "total_page": math.ceil(len(items) / size)}
    return items[(page - 1) * size: page * size], info


def _filtering(query: Mapping[str, str]) -> dict[str, Any]:
    raw = query.get("filtering")
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        raise BusinessError(40002, "filtering: Not a valid JSON string.") from None
    if not isinstance(value, dict):
        raise BusinessError(40002, "filtering: Must be a JSON object.")
    return value


def _require(body: Mapping[str, Any], *names: str) -> None:
    for name in names:
        if body.get(name) in (None, ""):
            raise BusinessError(40002, f"{name}: Missing data for required field.")


def _keyword_match(keyword: str, *values: str | None) -> bool:
    needle = keyword.casefold()
    return any(v is not None and needle in v.casefold() for v in values)


class TikTokBusinessFake(KindFake):
    kind = "tiktok_business"
    demo_org = "7212345678901234567"
    owner_role = "ADMIN"
    member_role = "STANDARD"
    asset_type = "ADVERTISER"
    asset_permission = "ANALYST"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_ids = itertools.count(1)
        self._unavailable = itertools.count()
        self.portal = TikTokPortal(self.store, self.kind)

    # -- KindFake --------------------------------------------------------------------------------

    def remote_id(self, member: StoredMember) -> str:
        return self.user_id(member) if member.status == "active" else f"pending:{member.email}"

    def find(self, org: OrgState, remote_id: str) -> StoredMember | None:
        if remote_id.startswith("pending:"):
            member = org.by_email(remote_id[len("pending:"):])
            return member if member is not None and member.status == "pending" else None
        if not remote_id.isdigit():
            return None
        member = org.members.get(int(remote_id) - USER_ID_BASE)
        return member if member is not None and member.status == "active" else None

    def demo_assets(self) -> Sequence[tuple[str, str]]:
        return (("7100000000000000001", "Acme Ads US"), ("7100000000000000002", "Acme Ads EU"))

    def render_rate_limited(self, retry_after: float) -> Response:
        return self.envelope(40100, "Too many requests. Please retry in some time.")

    def render_unavailable(self) -> Response:
        if next(self._unavailable) % 2:
            return self.envelope(50002, "Request timed out, please try again later.")
        return self.envelope(50000, "System error, please try again later.")

    def render_auth_expired(self) -> Response:
        return self.envelope(40102, "Access token has expired, please re-authorize.")

    def routes(self) -> Sequence[BaseRoute]:
        api: list[tuple[str, Callable[..., Any], str]] = [
            ("bc/member/get/", self.member_get, "GET"),
            ("bc/member/invite/", self.member_invite, "POST"), ("bc/member/delete/", self.member_delete, "POST"),
            ("bc/member/update/", self.member_update, "POST"), ("bc/asset/get/", self.asset_get, "GET"),
            ("bc/asset/member/get/", self.asset_member_get, "GET"),
            ("bc/asset/assign/", self.asset_assign, "POST"), ("bc/asset/unassign/", self.asset_unassign, "POST"),
        ]
        routes: list[BaseRoute] = [Route(f"{API}/{path}", self._api(handler, method), methods=[method])
                                   for path, handler, method in api]
        return routes + [
            Route(f"{API}/bc/get/", self.bc_get, methods=["GET"]),
            Route(f"{API}/oauth2/access_token/", self.access_token, methods=["POST"]),
            *self.portal.routes(),
        ]

    # -- plumbing --------------------------------------------------------------------------------

    def user_id(self, member: StoredMember) -> str:
        return str(USER_ID_BASE + member.uid)

    def envelope(self, code: int = 0, message: str = "OK", data: Any = None) -> Response:
        request_id = time.strftime("%Y%m%d%H%M%S", time.gmtime()) + f"{next(self._request_ids):012X}"
        return Envelope({"code": code, "message": message, "request_id": request_id,
                         "data": data if data is not None else {}})

    def _api(self, handler: Callable[[OrgState, Mapping[str, Any]], Any], method: str) -> Callable[[Request], Any]:
        """Wrap a handler: parse query/body, check the token and ``bc_id``, render the envelope."""
        async def endpoint(request: Request) -> Response:
            try:
                args = dict(request.query_params) if method == "GET" else await _json_body(request)
                org = self._org(request, args.get("bc_id"))
                return self.envelope(data=handler(org, args))
            except BusinessError as error:
                return self.envelope(error.code, error.message)
        return endpoint

    def _token_orgs(self, request: Request) -> set[str]:
        """The BCs the ``Access-Token`` reaches: 40104 if absent, 40105 if ``Bearer ...`` or unknown."""
        token = request.headers.get("access-token")
        if not token:
            raise BusinessError(40104, "Access token is null, please check the Access-Token header.")
        orgs = None if token.lower().startswith("bearer ") else self.store.token_orgs(self.kind, token)
        if orgs is None:
            raise BusinessError(40105, "The access token is invalid or has been revoked.")
        return orgs

    def _org(self, request: Request, bc_id: Any) -> OrgState:
        orgs = self._token_orgs(request)
        if bc_id in (None, ""):
            raise BusinessError(40002, "bc_id: Missing data for required field.")
        state = self.store.org(self.kind, str(bc_id)) if str(bc_id) in orgs else None
        if state is None:
            raise BusinessError(40001, "No permission to operate this Business Center.")
        return state

    def _member(self, org: OrgState, user_id: Any) -> StoredMember:
        member = self.find(org, str(user_id)) if str(user_id).isdigit() else None
        if member is None:
            raise BusinessError(40007, f"user_id {user_id} does not exist in this Business Center.")
        return member

    def _asset(self, org: OrgState, asset_type: Any, asset_id: Any) -> StoredAsset:
        _check_asset_type(asset_type)
        asset = org.assets.get(str(asset_id))
        if asset is None or asset.type != asset_type:
            raise BusinessError(40007, f"asset_id {asset_id} does not exist.")
        return asset

    # -- payloads --------------------------------------------------------------------------------

    def member_row(self, member: StoredMember) -> dict[str, Any]:
        row: dict[str, Any] = {"user_id": self.user_id(member)} if member.status == "active" else {}
        return row | {"user_name": member.name, "user_email": member.email, "user_role": member.role,
                      "relation_status": RELATION[member.status],
                      "ext_user_role": {"finance_role": self.finance_role(member)}}

    @staticmethod
    def finance_role(member: StoredMember) -> str | None:
        """Set by ``bc/member/update``; an admin manages finance unless told otherwise."""
        return member.extra.get("finance_role") or ("MANAGER" if member.role == "ADMIN" else None)  # type: ignore[return-value]

    def asset_row(self, org: OrgState, asset: StoredAsset, permission: str | None) -> dict[str, Any]:
        row: dict[str, Any] = {
            "asset_id": asset.id, "asset_name": asset.name, "asset_type": asset.type,
            "advertiser_role": None, "catalog_role": None, "store_role": None, "tt_account_roles": [],
            "advertiser_account_type": "AUCTION" if asset.type == "ADVERTISER" else None,
            "owner_bc_name": f"Business Center {org.org}", "ad_creation_eligible": asset.type == "ADVERTISER",
        }
        return row | _role_fields(asset.type, permission)

    # -- Business Center and members -------------------------------------------------------------

    async def bc_get(self, request: Request) -> Response:
        """The BCs the token reaches (``bc_id`` optional: narrows to one)."""
        try:
            query = request.query_params
            orgs = sorted(self._token_orgs(request))
            rows = [_bc_row(bc) for bc in orgs if query.get("bc_id") in (None, "", bc)]
            page, info = _page_of(query, "bc/get/", rows)
            return self.envelope(data={"list": list(page), "parent_bc": None, "page_info": info})
        except BusinessError as error:
            return self.envelope(error.code, error.message)

    def member_get(self, org: OrgState, query: Mapping[str, Any]) -> dict[str, Any]:
        members: Sequence[StoredMember] = org.listing()
        wanted = _filtering(query)
        if wanted:
            members = [m for m in members if _member_matches(m, wanted)]
        page, info = _page_of(query, "bc/member/get/", members)
        return {"list": [self.member_row(m) for m in page], "page_info": info}

    def member_invite(self, org: OrgState, body: Mapping[str, Any]) -> dict[str, Any]:
        emails, role = body.get("emails"), body.get("user_role") or "STANDARD"
        if not isinstance(emails, list) or not 1 <= len(emails) <= 50 or not all(
                isinstance(e, str) and "@" in e for e in emails):
            raise BusinessError(40002, "emails: Length must be between 1 and 50 valid emails.")
        if role not in USER_ROLES or (body.get("asset_type") or "ADVERTISER") != "ADVERTISER":
            raise BusinessError(40002, "user_role or asset_type: invalid value.")
        assets = [self._asset(org, "ADVERTISER", a) for a in body.get("asset_ids") or ()]
        permission = _role_value("ADVERTISER", body.get("advertiser_role") or "ANALYST")
        for email in emails:
            if org.by_email(email) is None:  # TikTok ignores emails already invited or bound
                member = self.store.add_member(self.kind, org.org, email=email, role=role, status="pending")
                for asset in assets:
                    self.store.grant(self.kind, org.org, asset.id, member.uid, permission)
        return {}

    def member_delete(self, org: OrgState, body: Mapping[str, Any]) -> dict[str, Any]:
        if body.get("user_id"):
            member = self._member(org, body["user_id"])
        elif body.get("user_email"):
            member = self.find(org, f"pending:{body['user_email']}")  # type: ignore[assignment]
            if member is None:
                raise BusinessError(40007, "No pending invitation for this user_email.")
        else:
            raise BusinessError(40002, "user_id or user_email: Missing data for required field.")
        self.store.remove_member(self.kind, org.org, member.uid)
        return {}

    def member_update(self, org: OrgState, body: Mapping[str, Any]) -> dict[str, Any]:
        """Set ``user_role`` / ``user_name`` / ``ext_user_role.finance_role``; nothing new -> 40012."""
        _require(body, "user_id")
        member = self._member(org, body["user_id"])
        role = body.get("user_role") or member.role
        name = body.get("user_name") or member.name
        finance = (body.get("ext_user_role") or {}).get("finance_role") or member.extra.get("finance_role")
        if role not in USER_ROLES:
            raise BusinessError(40002, "user_role: Must be one of ADMIN, STANDARD.")
        if len(str(name)) > 250:
            raise BusinessError(40002, "user_name: Length must be at most 250.")
        if (role, name, finance) == (member.role, member.name, member.extra.get("finance_role")):
            raise BusinessError(40012, "No update.")  # the connector takes it as success
        with self.store.lock:
            member.name, member.extra["finance_role"] = str(name), finance
        self.store.set_role(self.kind, org.org, member.uid, str(role))
        return {}

    # -- assets ----------------------------------------------------------------------------------

    def asset_get(self, org: OrgState, query: Mapping[str, Any]) -> dict[str, Any]:
        """Assets of ``asset_type``; with ``filtering.user_id|user_email`` only that user's, with
        the role fields describing the user's access."""
        _require(query, "asset_type")
        _check_asset_type(query["asset_type"])
        wanted = _filtering(query)
        uid = self._filter_uid(org, wanted)
        rows = []
        for asset in org.assets.values():
            permission = asset.grants.get(uid) if uid is not None else None
            if asset.type != query["asset_type"] or (uid is not None and permission is None):
                continue
            if wanted.get("keyword") and not _keyword_match(str(wanted["keyword"]), asset.name, asset.id):
                continue
            rows.append((asset, permission))
        page, info = _page_of(query, "bc/asset/get/", rows)
        return {"list": [self.asset_row(org, a, p) for a, p in page], "page_info": info}

    def _filter_uid(self, org: OrgState, wanted: Mapping[str, Any]) -> int | None:
        """The uid ``filtering`` names (-1 for an unknown user: matches nothing), or ``None``."""
        if wanted.get("user_id"):
            member = self.find(org, str(wanted["user_id"]))
        elif wanted.get("user_email"):
            member = org.by_email(str(wanted["user_email"]))
        else:
            return None
        return member.uid if member is not None else -1

    def asset_member_get(self, org: OrgState, query: Mapping[str, Any]) -> dict[str, Any]:
        _require(query, "asset_type", "asset_id")
        asset = self._asset(org, query["asset_type"], query["asset_id"])
        keyword = _filtering(query).get("keyword")
        rows = [(org.members[uid], p) for uid, p in asset.grants.items()
                if not keyword or _keyword_match(keyword, org.members[uid].name, org.members[uid].email)]
        page, info = _page_of(query, "bc/asset/member/get/", rows)
        return {"list": [self.member_row(m) | _role_fields(asset.type, p) for m, p in page], "page_info": info}

    def asset_assign(self, org: OrgState, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "user_id", "asset_type", "asset_id")
        asset = self._asset(org, body["asset_type"], body["asset_id"])
        field = ROLE_FIELDS.get(asset.type)
        stray = [f for f in ROLE_FIELDS.values() if f != field and body.get(f)]
        if field is None or stray or not body.get(field):
            raise BusinessError(40002, f"{field or 'asset_type'}: the role field must match the asset type"
                                       f"{' (got ' + ', '.join(stray) + ')' if stray else ''}.")
        member = self._member(org, body["user_id"])
        self.store.grant(self.kind, org.org, asset.id, member.uid, _role_value(asset.type, body[field]))
        return {}

    def asset_unassign(self, org: OrgState, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "user_id", "asset_type", "asset_id")
        asset = self._asset(org, body["asset_type"], body["asset_id"])
        member = self._member(org, body["user_id"])
        if not self.store.revoke(self.kind, org.org, asset.id, member.uid):
            raise BusinessError(40007, "The user has no permission on this asset.")
        return {}

    # -- OAuth and the App Authorization portal --------------------------------------------------

    async def access_token(self, request: Request) -> Response:
        """``{app_id, secret, auth_code}`` -> ``data.access_token`` valid for the user's BCs."""
        try:
            body = await _json_body(request)
            _require(body, "app_id", "secret", "auth_code")
            if body["app_id"] != APP_ID or body["secret"] != APP_SECRET:
                raise BusinessError(40001, "The app_id or secret is invalid.")
            username = self.portal.redeem(str(body["app_id"]), str(body["auth_code"]))
            if username is None:
                raise BusinessError(40002, "auth_code is invalid or has expired.")
            return self.envelope(data=self._issue_token(username))
        except BusinessError as error:
            return self.envelope(error.code, error.message)

    def _issue_token(self, username: str) -> dict[str, Any]:
        token = secrets.token_hex(20)
        advertisers: list[str] = []
        for org in self.portal.admin_orgs(username):
            self.store.add_token(self.kind, token, org.org)
            advertisers += [a.id for a in org.assets.values() if a.type == "ADVERTISER"]
        return {"access_token": token, "advertiser_ids": advertisers, "scope": sorted(SCOPES)}


def _check_asset_type(asset_type: Any) -> None:
    if asset_type not in ASSET_TYPES:
        raise BusinessError(40002, f"asset_type: Must be one of {', '.join(ASSET_TYPES)}.")


def _bc_row(bc_id: str) -> dict[str, Any]:
    info = {"bc_id": bc_id, "name": f"Business Center {bc_id}", "company": "Example Inc.", "currency": "USD",
            "timezone": "Etc/GMT", "status": "ENABLE", "type": "NORMAL", "registered_area": "US",
            "organization_type": "BUSINESS"}
    return {"bc_info": info, "user_role": "ADMIN", "ext_user_role": {"finance_role": "MANAGER"},
            "binding_status": "BOUND"}


def _role_value(asset_type: str, value: Any) -> str:
    """A role-field value as stored (TT account roles sorted and joined); 40002 if invalid."""
    values = value if isinstance(value, list) else [value]
    allowed = ROLE_VALUES.get(asset_type, set())
    if not values or not all(isinstance(v, str) and v in allowed for v in values) or (
            len(values) > 1 and asset_type != "TT_ACCOUNT"):
        raise BusinessError(40002, f"{ROLE_FIELDS.get(asset_type, 'role')}: invalid value {value!r}.")
    return ",".join(sorted(set(values)))


def _role_fields(asset_type: str, permission: str | None) -> dict[str, Any]:
    field = ROLE_FIELDS.get(asset_type)
    if field is None or permission is None:
        return {}
    return {field: permission.split(",") if field == "tt_account_roles" else permission}


def _member_matches(member: StoredMember, wanted: Mapping[str, Any]) -> bool:
    if wanted.get("keyword") and not _keyword_match(str(wanted["keyword"]), member.name, member.email):
        return False
    if wanted.get("user_role") and member.role != wanted["user_role"]:
        return False
    return not wanted.get("relation_status") or RELATION[member.status] == wanted["relation_status"]


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise BusinessError(40002, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BusinessError(40002, "The request body must be a JSON object.")
    return data


FAKE = TikTokBusinessFake
